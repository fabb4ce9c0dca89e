"""What a composed behavior needs of its call, for a call that came over HTTP.

The interceptors and servicers read a gRPC ServicerContext: its metadata, its peer, the
initial metadata they send, and the status they abort with. HttpCallContext answers the
same questions from an HTTP request, and an abort becomes HttpAbort, which the HTTP side
turns into its own error response.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import grpc
from google.rpc import status_pb2
from starlette.requests import cookie_parser

# The dashboard's sign-in cookie: the token, HttpOnly (no script reads it), SameSite=Strict.
SESSION_COOKIE = "tracking_token"
_DETAILS_KEY = "grpc-status-details-bin"


class HttpAbort(grpc.aio.AbortError):
    """A call ended with a status other than OK."""

    def __init__(self, code: grpc.StatusCode, message: str, status: status_pb2.Status | None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class HttpCallContext:
    """The part of grpc.aio.ServicerContext the composed behaviors use."""

    # What tracing names the protocol of a call that came over HTTP (gRPC's context has no
    # such attribute: "grpc").
    rpc_system = "connectrpc"

    def __init__(self, metadata: Sequence[tuple[str, str]], peer: str) -> None:
        self._metadata = tuple(metadata)
        self._peer = peer
        self._code: grpc.StatusCode | None = None
        self.response_headers: list[tuple[str, str]] = []

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def peer(self) -> str:
        return self._peer

    def code(self) -> grpc.StatusCode | None:
        return self._code

    async def send_initial_metadata(self, metadata: Iterable[tuple[str, str]]) -> None:
        self.response_headers.extend(metadata)

    async def abort(
        self,
        code: grpc.StatusCode,
        details: str = "",
        trailing_metadata: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._code = code
        status = None
        for key, value in trailing_metadata:
            if key == _DETAILS_KEY:
                status = status_pb2.Status.FromString(value)
        raise HttpAbort(code, details, status)

    async def abort_with_status(self, status: grpc.Status) -> None:
        await self.abort(status.code, status.details, status.trailing_metadata)


def call_metadata(
    headers: Iterable[tuple[str, str]], cookies: dict[str, str]
) -> list[tuple[str, str]]:
    """The request's headers as gRPC metadata; without an Authorization header, the sign-in
    cookie stands for one (EventSource cannot send headers)."""
    metadata = [(key.lower(), value) for key, value in headers if key.lower() != "cookie"]
    session = cookies.get(SESSION_COOKIE)
    if session and not any(key == "authorization" for key, _ in metadata):
        metadata.append(("authorization", f"Bearer {session}"))
    return metadata


def peer_of(client: tuple[str, int] | None) -> str:
    """The client address the way gRPC names a peer ("ipv4:10.0.0.7:51234")."""
    if client is None:
        return "unknown"
    host, port = client
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"


def client_of(address: str | None) -> tuple[str, int] | None:
    """("10.0.0.7", 51234) from "10.0.0.7:51234" (or "[::1]:51234")."""
    if not address:
        return None
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def call_context(
    headers: Iterable[tuple[str, str]], cookie_header: str, client: tuple[str, int] | None
) -> HttpCallContext:
    """The context of a call that came with these headers from this client."""
    return HttpCallContext(call_metadata(headers, cookie_parser(cookie_header)), peer_of(client))
