"""A real HTTP receiver of webhooks on port 0, in a thread: it records what arrives and
answers as the test says (a status, a delay, a redirect, an endless body)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Answer:
    status: int = 204
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    # Bytes of body to send (streamed in 64 KiB chunks); the receiver of a gigabyte.
    body_bytes: int = 0
    # Bytes sent after the body its content-length announces (a broken receiver).
    extra_bytes: int = 0


Behaviour = Callable[[Received], Answer]


class Receiver:
    def __init__(self, behaviour: Behaviour | None = None, port: int = 0) -> None:
        self.behaviour: Behaviour = behaviour or (lambda _: Answer())
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                request = Received(
                    {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()
                )
                answer = receiver.behaviour(request)
                if answer.delay:
                    time.sleep(answer.delay)
                if 200 <= answer.status < 300:
                    with receiver.lock:
                        receiver.received.append(request)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(answer.body_bytes))
                self.end_headers()
                chunk = b"x" * 65536
                sent = 0
                try:
                    while sent < answer.body_bytes:
                        part = chunk[: answer.body_bytes - sent]
                        self.wfile.write(part)
                        sent += len(part)
                    if answer.extra_bytes:
                        self.wfile.write(b"x" * answer.extra_bytes)
                except OSError:
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def bodies(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiving(behaviour: Behaviour | None = None) -> Iterator[Receiver]:
    receiver = Receiver(behaviour).start()
    try:
        yield receiver
    finally:
        receiver.stop()
