"""uvicorn's HTTP/1.1 protocol (httptools) with the limits the gRPC side has and uvicorn
lacks: a cap on open connections, a deadline for a request to arrive, and a cap on the
size of its request line and headers.

uvicorn times out only an idle connection between two requests: one that sends nothing, or
headers or a body a byte at a time, holds a file descriptor for ever; and httptools keeps
a header of any size in memory. Each connection here must have sent its whole request
within `request_timeout` of its first byte (of the connection, for the first request),
and at most `max_head_bytes` of request line and headers.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# The scope extension that holds a function closing the connection at once.
ABORT_EXTENSION = "tracking.abort"


def _refusal(status: str, code: str, message: str) -> bytes:
    body = json.dumps({"code": code, "message": message}).encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


class GuardedHttpProtocol(HttpToolsProtocol):
    max_connections = 4096
    request_timeout = 30.0
    max_head_bytes = 65536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = True  # reading a request line and headers
        self._head_bytes = 0  # of the chunks that were all head
        self._parsed_head = 0  # of the request line and headers parsed so far
        self._head_refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse(
                "503 Service Unavailable",
                "unavailable",
                "the server has as many connections open as it takes: try again",
            )
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Counted when the whole chunk was head (a chunk may end one request and begin the
        # next: its start is that request's body); a head that outgrows the cap is refused.
        was_in_head = self._in_head
        super().data_received(data)
        if was_in_head and self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._head_too_large()

    # A head that arrives in one chunk with the start of its body is counted as it is
    # parsed: past the cap it is refused (431), and nothing of it reaches the application.
    def on_url(self, url: bytes) -> None:
        if self._counted(len(url)):
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._counted(len(name) + len(value) + 4):
            super().on_header(name, value)

    def _counted(self, size: int) -> bool:
        """Count bytes of the head; False once it is refused."""
        if not self._head_refused:
            self._parsed_head += size
            if self._parsed_head > self.max_head_bytes:
                self._head_too_large()
        return not self._head_refused

    def on_message_begin(self) -> None:
        if self._head_refused:
            return
        super().on_message_begin()
        self._in_head, self._head_bytes, self._parsed_head = True, 0, 0
        self._arm()

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_refused:
            return
        # An answer that must end while its reader stopped reading (an event stream whose
        # watcher overflowed) aborts: close() would wait for ever for the unread bytes to go.
        extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
        extensions[ABORT_EXTENSION] = self.transport.abort
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._head_refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        if not self._head_refused:
            super().on_message_complete()

    def _head_too_large(self) -> None:
        self._head_refused = True
        self._refuse(
            "431 Request Header Fields Too Large",
            "resource_exhausted",
            f"the request line and headers are more than the {self.max_head_bytes}"
            " bytes this server accepts",
        )

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.request_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._in_head:
            self._refuse(
                "408 Request Timeout",
                "deadline_exceeded",
                f"the request did not arrive within {self.request_timeout:g} s",
            )
        else:  # its body is still arriving; the application may have answered already
            self.transport.close()

    def _refuse(self, status: str, code: str, message: str) -> None:
        self._disarm()
        self.transport.write(_refusal(status, code, message))
        self.transport.close()


def guarded_protocol(
    *, max_connections: int, request_timeout: float, max_head_bytes: int
) -> type[GuardedHttpProtocol]:
    """The protocol class for uvicorn's Config(http=...), with these limits."""
    return type(
        "GuardedHttpProtocol",
        (GuardedHttpProtocol,),
        {
            "max_connections": max_connections,
            "request_timeout": request_timeout,
            "max_head_bytes": max_head_bytes,
        },
    )
