"""Authentication from the request's headers, before its body is read.

A Connect call's body is read, decompressed and parsed before the composed method (and its
auth) runs; without this check, a caller with no token could make the server read up to
the message limit, inflate it and parse it, and hold that memory while it trickles in.
The check asks the auth interceptor what it would answer from the metadata alone (every
header: two Authorization headers are refused here as on gRPC), and a refusal is answered
at once, closing the connection, so the body is never read. An SSE stream is checked the
same way. The call's own admission still runs afterwards (its token is then in the cache).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tracking.service.http.context import call_metadata, peer_of

Identify = Callable[[str, list[tuple[str, str]], str], Awaitable[Any]]

_STATUS = {
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
}


class EarlyAuth:
    """Refuses, from its headers, a call under one of `prefixes` (followed by its RPC's
    name) that the auth interceptor would refuse."""

    def __init__(
        self, app: ASGIApp, *, identify: Identify, prefixes: tuple[str, ...], rpcs: frozenset[str]
    ) -> None:
        self.app = app
        self.identify = identify
        self.prefixes = prefixes
        self.rpcs = rpcs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "POST"):
            rpc = self._rpc(scope["path"])
            if rpc:
                refusal = await self._refusal(rpc, scope)
                if refusal is not None:
                    return await refusal(scope, receive, send)
        await self.app(scope, receive, send)

    def _rpc(self, path: str) -> str:
        for prefix in self.prefixes:
            if path.startswith(prefix):
                name = path.removeprefix(prefix)
                return name if name in self.rpcs else ""
        return ""

    async def _refusal(self, rpc: str, scope: Scope) -> JSONResponse | None:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        cookies = "; ".join(value for key, value in headers if key == "cookie")
        metadata = call_metadata(headers, cookie_parser(cookies))
        identified = await self.identify(rpc, metadata, peer_of(scope.get("client")))
        code = getattr(identified, "code", None)
        if code is None:
            return None
        return JSONResponse(
            {"code": code.name.lower(), "message": identified.message},
            _STATUS.get(code, 500),
            # The body that may follow is not read: the connection cannot carry another request.
            headers={"connection": "close"},
        )
