"""Processes and load generators the benchmarks share."""

from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf.message import Message

SERVING = re.compile(r"serving on (\S+):(\d+)")
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Process:
    """A server process (the real one or the echo baseline) and the address it serves."""

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[str] | None = None
    address: str = ""
    lines: list[str] = field(default_factory=list)

    def start(self) -> Process:
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
        if not ready.wait(60):
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


def tracking_server(database_url: str, **settings: str) -> Process:
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
    return Process(
        [tracking, "serve", "--address", "127.0.0.1:0", "--database-url", database_url], env
    )


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


def h2load(
    address: str,
    method: str,
    request: Message,
    *,
    requests: int,
    clients: int,
    streams: int,
    workdir: Path,
) -> LoadResult:
    """Drive one unary RPC with h2load (a C client, so the load does not steal Python's CPU)."""
    body = workdir / f"{method}.bin"
    body.write_bytes(grpc_frame(request))
    result = subprocess.run(
        [
            h2load_path(),
            "-n",
            str(requests),
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
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", result.stdout)
    done = re.search(
        r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", result.stdout
    )
    if rate is None or done is None:
        raise RuntimeError(result.stdout)
    return LoadResult(float(rate.group(1)), int(done.group(1)), int(done.group(2)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def settle(seconds: float = 0.5) -> None:
    time.sleep(seconds)
