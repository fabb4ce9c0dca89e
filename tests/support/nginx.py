"""Debian's nginx in front of tracking replicas, with the configuration deploy/ ships.

The test copy of deploy/nginx/nginx.conf differs only where a test must differ: the ports
it listens on, the replicas it sends to, the paths of its log and temporary files (and,
for the tests of idle timeouts, the timeouts named). Each change must find its line, so a
change to the shipped file that a test would silently stop exercising fails here instead.
nginx runs unprivileged: as `nobody` when the tests run as root, in a directory of its own.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support.environment import cannot_run

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "nginx" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
UPSTREAM_SERVER = re.compile(r"^(\s*)server tracking-\d+:(50051|8080)( [^;]*)?;\n", re.MULTILINE)
TEMPORARY = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"deploy/nginx/nginx.conf no longer has {old!r}"
    return text.replace(old, new)


def render(
    grpc_listen: str,
    http_listen: str,
    grpc_servers: Sequence[str],
    http_servers: Sequence[str],
    directory: Path,
    settings: Mapping[str, str] | None = None,
) -> str:
    """The shipped configuration with the test's ports, replicas and paths; `settings`
    gives other values to directives the file has (name -> value)."""
    text = SHIPPED.read_text()
    text = _replace(text, "listen 50051 http2;", f"listen {grpc_listen} http2;")
    text = _replace(text, "listen 8080;", f"listen {http_listen};")
    text = _replace(text, "access_log /dev/stdout;", f"access_log {directory}/access.log;")
    temporary = "".join(f"    {kind}_temp_path {directory}/{kind};\n" for kind in TEMPORARY)
    text = _replace(text, "\nhttp {\n", "\nhttp {\n" + temporary)
    servers = {"50051": list(grpc_servers), "8080": list(http_servers)}
    written: set[str] = set()

    def upstream(match: re.Match[str]) -> str:
        indent, port, parameters = match.group(1), match.group(2), match.group(3) or ""
        if port in written:
            return ""
        written.add(port)
        return "".join(f"{indent}server {address}{parameters};\n" for address in servers[port])

    text = UPSTREAM_SERVER.sub(upstream, text)
    assert written == {"50051", "8080"}, "deploy/nginx/nginx.conf's upstream servers moved"
    for name, value in (settings or {}).items():
        text, count = re.subn(rf"(?m)^(\s*{re.escape(name)}) [^;]+;", rf"\1 {value};", text)
        assert count, f"deploy/nginx/nginx.conf has no {name}"
    return text


def _unprivileged() -> dict[str, int]:
    """Popen's user and group: nobody's, when the tests run as root."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid}


def _own_directory() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="tracking-nginx-"))
    identity = _unprivileged()
    if identity:
        os.chown(directory, identity["user"], identity["group"])
    return directory


def _command(directory: Path, *extra: str, globals_: str = "") -> list[str]:
    return [
        NGINX,
        "-p", str(directory),
        "-e", "stderr",
        "-c", str(directory / "nginx.conf"),
        "-g", f"pid {directory}/nginx.pid; {globals_}",
        *extra,
    ]  # fmt: skip


def require_nginx() -> None:
    if not os.access(NGINX, os.X_OK):
        cannot_run("nginx is not installed (make nginx-deps installs Debian's)")


def check(
    grpc_listen: str, http_listen: str, grpc_servers: Sequence[str], http_servers: Sequence[str]
) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of the shipped configuration as the tests render it, run as the
    unprivileged user that would run it."""
    directory = _own_directory()
    try:
        text = render(grpc_listen, http_listen, grpc_servers, http_servers, directory)
        (directory / "nginx.conf").write_text(text)
        return subprocess.run(
            _command(directory, "-t"),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            **_unprivileged(),  # type: ignore[call-overload]
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _listening(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


class Nginx:
    """nginx in the foreground (daemon off), in a directory of its own."""

    def __init__(self, text: str, directory: Path, listens: Sequence[str]) -> None:
        self.directory = directory
        self.listens = listens
        (directory / "nginx.conf").write_text(text)
        # Its error log goes to a file: a pipe nobody reads would stall nginx once full.
        with self.error_log.open("w") as errors:
            self.process = subprocess.Popen(
                _command(directory, globals_="daemon off;"),
                stderr=errors,
                text=True,
                **_unprivileged(),  # type: ignore[call-overload]
            )

    @property
    def error_log(self) -> Path:
        return self.directory / "error.log"

    def errors(self) -> list[str]:
        """The lines of its error log at level error or worse."""
        levels = ("[error]", "[crit]", "[alert]", "[emerg]")
        lines = self.error_log.read_text().splitlines()
        return [line for line in lines if any(level in line for level in levels)]

    def wait_listening(self, timeout: float = 30) -> Nginx:
        give_up = time.monotonic() + timeout
        while not all(_listening(address) for address in self.listens):
            if self.process.poll() is not None:
                raise RuntimeError("nginx did not start:\n" + self.error_log.read_text())
            if time.monotonic() > give_up:
                raise RuntimeError("nginx did not listen in time")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # fast shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)


@contextmanager
def nginx(
    grpc_listen: str,
    http_listen: str,
    grpc_servers: Sequence[str],
    http_servers: Sequence[str],
    settings: Mapping[str, str] | None = None,
) -> Iterator[Nginx]:
    """nginx with the shipped configuration, listening on the two addresses given."""
    require_nginx()
    directory = _own_directory()
    text = render(grpc_listen, http_listen, grpc_servers, http_servers, directory, settings)
    proxy = Nginx(text, directory, [grpc_listen, http_listen])
    try:
        yield proxy.wait_listening()
    finally:
        proxy.stop()
        # What nginx saw go wrong, shown with the test's output if it fails.
        print("".join(f"nginx: {line}\n" for line in proxy.errors()[-10:]), file=sys.stderr)
        shutil.rmtree(directory, ignore_errors=True)
