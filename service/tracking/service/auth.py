"""Authentication, roles and per-caller rate limits, checked before any handler runs.

Every call to TrackingService carries `authorization: Bearer <secret>` when
auth is on. The interceptor resolves the secret to a principal (a cached
lookup of its hash), checks the role the RPC needs, takes one request from the
caller's rate bucket, and makes the principal available to the handler through
a context variable. Streams check their token again as they go, so a revoked
token's open streams end within a minute. Health and reflection stay open, for
load balancers and grpcurl.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc

from tracking.service.domain import auth
from tracking.service.operations.tokens import Principal, Tokens
from tracking.service.store.database import connection_lost
from tracking.service.wrapping import SERVICE_PREFIX, Context, Stream, Unary, WrappingInterceptor

ANONYMOUS = Principal("anonymous", auth.Role.ADMIN, "")
current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar(
    "current_principal", default=ANONYMOUS
)


class RateLimiter:
    """A token bucket per caller: `rate` requests a second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > 100_000:  # forget idle callers rather than grow forever
            self._buckets.clear()
        return True


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    code: grpc.StatusCode
    message: str


class AuthInterceptor(WrappingInterceptor):
    def __init__(
        self, tokens: Tokens, *, required: bool, limiter: RateLimiter, recheck_seconds: float = 15.0
    ) -> None:
        self.tokens = tokens
        self.required = required
        self.limiter = limiter
        self.recheck_seconds = recheck_seconds

    async def _admit(self, method: str, metadata: Any, peer: str) -> Principal | Refusal:
        rpc = method.removeprefix(SERVICE_PREFIX)
        principal = ANONYMOUS
        if self.required:
            header = dict(metadata or ()).get("authorization", "")
            scheme, _, secret = header.partition(" ")
            if not header:
                return Refusal(
                    grpc.StatusCode.UNAUTHENTICATED, "send authorization: Bearer <token>"
                )
            if scheme.lower() != "bearer" or not secret:
                return Refusal(
                    grpc.StatusCode.UNAUTHENTICATED, "authorization must be 'Bearer <token>'"
                )
            try:
                found = await self.tokens.verify(secret.strip())
            except Exception as error:
                if connection_lost(error):
                    return Refusal(
                        grpc.StatusCode.UNAVAILABLE,
                        "cannot check the token: the database is unreachable",
                    )
                log.exception("checking a token failed")
                return Refusal(
                    grpc.StatusCode.INTERNAL, "internal error; the server logged the details"
                )
            if found is None:
                return Refusal(grpc.StatusCode.UNAUTHENTICATED, "the token is unknown or revoked")
            principal = found
            needed = auth.required_role(rpc)
            if principal.role < needed:
                return Refusal(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"{rpc} needs the {needed.name.lower()} role; this token is {principal.role.name.lower()}",
                )
        key = principal.token_id or peer
        if not self.limiter.allow(key):
            return Refusal(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"more than {self.limiter.rate:g} requests a second from this caller: slow down",
            )
        return principal

    def wrap_unary(self, behavior: Unary, method: str) -> Unary:
        async def unary(request: Any, context: Context) -> Any:
            metadata = context.invocation_metadata()
            admitted = await self._admit(method, metadata, context.peer())
            if isinstance(admitted, Refusal):
                await context.abort(admitted.code, admitted.message)
            assert isinstance(admitted, Principal)
            current_principal.set(admitted)
            return await behavior(request, context)

        return unary

    def wrap_stream(self, behavior: Stream, method: str) -> Stream:
        async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
            metadata = context.invocation_metadata()
            admitted = await self._admit(method, metadata, context.peer())
            if isinstance(admitted, Refusal):
                await context.abort(admitted.code, admitted.message)
            assert isinstance(admitted, Principal)
            current_principal.set(admitted)
            checked = time.monotonic()
            async for response in behavior(request, context):
                yield response
                if self.required and time.monotonic() - checked > self.recheck_seconds:
                    checked = time.monotonic()
                    if not await self._still_valid(metadata):
                        await context.abort(
                            grpc.StatusCode.UNAUTHENTICATED, "the token was revoked"
                        )

        return stream

    async def _still_valid(self, metadata: Any) -> bool:
        secret = dict(metadata or ()).get("authorization", "").partition(" ")[2].strip()
        try:
            return await self.tokens.verify(secret) is not None
        except Exception as error:
            if connection_lost(error):
                return True  # checked again at the next recheck; the stream goes on meanwhile
            raise
