"""Processes and load generators the benchmarks share."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf.message import Message

SERVING = re.compile(r"serving on (\S+):(\d+)")
ROOT = Path(__file__).resolve().parent.parent
# The PostgreSQL server the bench makes its databases on (one new database per server).
POSTGRES_URL = os.environ.get(
    "TRACKING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# Every load generator and helper process gets at most this long (seconds).
PROCESS_SECONDS = 300.0


@dataclass
class Process:
    """A server process (the real one or the echo baseline) and the address it serves."""

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[str] | None = None
    address: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def http_address(self) -> str:
        return self.env.get("TRACKING_HTTP_ADDRESS", "")

    def start(self, seconds: float = 60) -> Process:
        self.popen = subprocess.Popen(
            self.args,
            stderr=subprocess.STDOUT,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, **self.env},
        )
        ready = threading.Event()

        def read() -> None:
            assert self.popen is not None
            assert self.popen.stdout is not None
            for line in self.popen.stdout:
                self.lines.append(line)
                match = SERVING.search(line)
                if match and not ready.is_set():
                    self.address = f"{match.group(1)}:{match.group(2)}"
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(seconds):
            self.stop()
            raise RuntimeError("did not start:\n" + "".join(self.lines[-20:]))
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)

    def rss_kb_tree(self) -> int:
        """RSS of the process and its children (the workers of `serve --workers`)."""
        total = 0
        for pid in [self.pid, *children(self.pid)]:
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            for line in text.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    return [int(child) for child in found]


def read_line(popen: subprocess.Popen[str], seconds: float) -> str:
    """The next line the process prints, or "" if none came within `seconds` (or it ended)."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert popen.stdout is not None
        lines.put(popen.stdout.readline())

    threading.Thread(target=read, daemon=True).start()
    try:
        return lines.get(timeout=seconds)
    except queue.Empty:
        return ""


def finish(popen: subprocess.Popen[str], seconds: float = 120.0) -> str:
    """Close the process's stdin and return what it prints until it ends: killed (and ""
    returned) when it has not ended within `seconds`."""
    try:
        output, _ = popen.communicate(None if popen.stdin is None else "", timeout=seconds)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.communicate()
        return ""
    return output or ""


def last_json_line(output: str) -> str | None:
    lines = output.strip().splitlines()
    return lines[-1] if lines else None


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_reachable() -> str | None:
    """None if the bench's PostgreSQL server answers, else why not."""
    try:
        asyncio.run(asyncio.wait_for(_admin("SELECT 1"), 10))
    except Exception as error:  # any failure means: measure SQLite only, and say why
        return f"{type(error).__name__}: {error}"
    return None


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new empty database on the bench's PostgreSQL server, dropped afterwards."""
    name = f"tracking_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base, _, _ = POSTGRES_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def tracking_server(database_url: str, workers: int = 1, **settings: str) -> Process:
    env = {
        "TRACKING_RATE_LIMIT_PER_SECOND": "0",  # measure the service, not its limiter
        "TRACKING_MAX_WATCHERS_PER_PRINCIPAL": "100000",
        "TRACKING_MAX_CONCURRENT_STREAMS": "100000",
        "TRACKING_WATCHER_QUEUE": "100000",
        "TRACKING_LOG_LEVEL": "INFO",  # "serving on" is logged at INFO; successful calls at DEBUG
        "TRACKING_LOG_FORMAT": "text",
        "TRACKING_HTTP_ADDRESS": "",  # no HTTP side unless asked: 127.0.0.1:8080 may be taken
        **settings,
    }
    tracking = str(Path(sys.executable).with_name("tracking"))
    args = [tracking, "serve", "--address", "127.0.0.1:0", "--database-url", database_url]
    if workers > 1:
        args += ["--workers", str(workers)]
    return Process(args, env)


def echo_server() -> Process:
    return Process([sys.executable, "-m", "bench.echo_server", "0"])


def grpc_frame(message: Message) -> bytes:
    body = message.SerializeToString()
    return b"\x00" + struct.pack(">I", len(body)) + body


def h2load_path() -> str:
    found = shutil.which("h2load")
    if found is None:
        raise SystemExit(
            "h2load is missing: make bench installs it (Debian package nghttp2-client)"
        )
    return found


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    succeeded: int
    failed: int


# Calls before the measured time starts (connections made, caches warm).
WARM_UP = "300ms"


def h2load(
    address: str,
    method: str,
    request: Message,
    *,
    seconds: float,
    clients: int,
    streams: int,
    workdir: Path,
) -> LoadResult:
    """Drive one unary RPC for `seconds` with h2load (a C client, so the load does not steal
    Python's CPU)."""
    body = workdir / f"{method}.bin"
    body.write_bytes(grpc_frame(request))
    command = _h2load_grpc(address, method, body, seconds, clients, streams)
    return _parse(_run(command))


def _run(command: list[str]) -> str:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=PROCESS_SECONDS, check=True
    ).stdout


def _h2load_grpc(
    address: str, method: str, body: Path, seconds: float, clients: int, streams: int
) -> list[str]:
    return [
        h2load_path(),
        "-D",
        f"{round(seconds * 1000)}ms",
        "--warm-up-time",
        WARM_UP,
        "-c",
        str(clients),
        "-m",
        str(streams),
        "-t",
        "1",
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
        "-d",
        str(body),
        f"http://{address}/tracking.v1.TrackingService/{method}",
    ]


def _parse(output: str) -> LoadResult:
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", output)
    done = re.search(
        r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", output
    )
    if rate is None or done is None:
        raise RuntimeError(output)
    return LoadResult(float(rate.group(1)), int(done.group(1)), int(done.group(2)))


def h2load_each(
    address: str, method: str, requests: list[Message], *, seconds: float, workdir: Path
) -> LoadResult:
    """One h2load per request message, all at once for `seconds`, one call in flight each:
    as many concurrent callers as messages (h2load sends one body, so one process a body).
    The rate is the sum of theirs."""
    popens = []
    for index, request in enumerate(requests):
        body = workdir / f"{method}-{index}.bin"
        body.write_bytes(grpc_frame(request))
        command = _h2load_grpc(address, method, body, seconds, 1, 1)
        popens.append(
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        )
    results = [_parse(finish(popen, PROCESS_SECONDS)) for popen in popens]
    return LoadResult(
        sum(r.requests_per_second for r in results),
        sum(r.succeeded for r in results),
        sum(r.failed for r in results),
    )


def h1load(url: str, body: bytes, *, seconds: float, clients: int, workdir: Path) -> LoadResult:
    """POST a JSON body over `clients` HTTP/1.1 keep-alive connections (h2load --h1)."""
    path = workdir / "h1-body.json"
    path.write_bytes(body)
    command = [
        h2load_path(),
        "--h1",
        "-D",
        f"{round(seconds * 1000)}ms",
        "--warm-up-time",
        WARM_UP,
        "-c",
        str(clients),
        "-t",
        "1",
        "-H",
        "content-type: application/json",
        "-d",
        str(path),
        url,
    ]
    return _parse(_run(command))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def settle(seconds: float = 0.5) -> None:
    time.sleep(seconds)
