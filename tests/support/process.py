"""`tracking serve` as a real process, for tests that kill and restart it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

SERVING = re.compile(r"serving on (\S+):(\d+)")
HTTP_SERVING = re.compile(r"HTTP and dashboard on (https?://[^/\s]+)/")
TRACKING = Path(sys.executable).with_name("tracking")


class ServerProcess:
    def __init__(
        self,
        database_url: str,
        address: str = "127.0.0.1:0",
        http_address: str = "",
        serve_args: tuple[str, ...] = (),
        **env: str,
    ) -> None:
        """`http_address` ("127.0.0.1:0" picks a port) opens the HTTP side; `http_url` then
        names it once started. `serve_args` go to `tracking serve` as they are."""
        self.serve_args = serve_args
        self.database_url = database_url
        self.requested_address = address
        self.requested_http_address = http_address
        self.http_url = ""
        self.env = {**os.environ, "TRACKING_HEARTBEAT_SECONDS": "0.5", **env}
        self.process: subprocess.Popen[str] | None = None
        self.address = ""
        self.output: list[str] = []

    def start(self, timeout: float = 60) -> ServerProcess:
        self.process = subprocess.Popen(
            [
                str(TRACKING),
                "serve",
                "--address",
                self.requested_address,
                "--database-url",
                self.database_url,
                "--http-address",
                self.requested_http_address,
                *self.serve_args,
            ],
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        found = threading.Event()

        def read() -> None:
            assert self.process is not None
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.output.append(line)
                http = HTTP_SERVING.search(line)
                if http:
                    self.http_url = http.group(1)
                match = SERVING.search(line)
                if match and not found.is_set():
                    self.address = f"{match.group(1)}:{match.group(2)}"
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(timeout):
            self.kill()
            raise RuntimeError("server did not start:\n" + "".join(self.output))
        return self

    def kill(self) -> None:
        """SIGKILL: no drain, no flush, as when a machine dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def terminate(self, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)
