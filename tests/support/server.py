"""A real server on port 0, run in a thread with its own event loop.

Tests then talk to it through real channels from plain (sync) code or from
their own event loop, exactly as other processes would.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

from tracking.service.app import TrackingApp, create_server
from tracking.service.settings import Settings


class ServerThread:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="tracking-server", daemon=True
        )
        self.app: TrackingApp | None = None
        self.port = 0

    def start(self) -> ServerThread:
        self.thread.start()
        self.app, self.port = self.run(create_server(self.settings))
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        """The HTTP side's base URL (the server must have been given an http_address)."""
        assert self.app is not None
        assert self.app.http is not None, "no HTTP side"
        scheme = "https" if self.settings.tls_cert_file else "http"
        return f"{scheme}://127.0.0.1:{self.app.http.port}"

    def run(self, coroutine: Any, timeout: float = 60) -> Any:
        """Run a coroutine on the server's loop and wait for its result."""
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def stop(self, grace: float | None = 1.0) -> None:
        if self.app is not None:
            self.run(self.app.stop(grace))
            self.app = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()
