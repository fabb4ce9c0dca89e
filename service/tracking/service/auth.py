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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from tracking.service.domain import auth
from tracking.service.domain.auth import Principal
from tracking.service.domain.client_address import Network
from tracking.service.domain.errors import Unavailable
from tracking.service.failed_auth import (
    FailedAuthGuard,
    authorization_headers,
    bearer_secret,
)
from tracking.service.wrapping import (
    SERVICE_PREFIX,
    CallFacts,
    Context,
    Stage,
    WrappingInterceptor,
)

ANONYMOUS = Principal("anonymous", auth.Role.ADMIN, "")


@dataclass(slots=True)
class _StreamAuth:
    """What a stream's re-checks need: its metadata and when its token was last checked."""

    metadata: Any
    checked: float


class TokenChecker(Protocol):
    """What the interceptor asks of the tokens (operations/tokens.py answers)."""

    def verified_recently(self, secret: str) -> Principal | None: ...

    async def may_be_issued(self, token_id: str) -> bool: ...

    async def verify(self, secret: str) -> Principal | None: ...


current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar(
    "current_principal", default=ANONYMOUS
)


class RateLimiter:
    """A token bucket per caller: `rate` requests a second, bursts up to `burst`.

    Buckets live in a plain dict, a list [tokens, last] each, changed in place (a cache
    with expiry cost more than the rest of the check). An idle caller's bucket is full again
    after burst / rate seconds, so forgetting it then changes nothing: once `max_callers`
    buckets are kept, those full again are forgotten, and the oldest if none is.
    """

    def __init__(self, rate: float, burst: float, max_callers: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_callers = max_callers
        self._refill_seconds = burst / rate if rate > 0 else 1.0
        self._buckets: dict[str, list[float]] = {}

    def _level(self, bucket: list[float], now: float) -> float:
        return min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)

    def allow(self, key: str, now: float | None = None) -> bool:
        """Take one request from the caller's bucket, if there is one left."""
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room(now)
            self._buckets[key] = [self.burst - 1, now]
            return True
        tokens = self._level(bucket, now)
        bucket[1] = now
        if tokens < 1:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - 1
        return True

    def exhausted(self, key: str, now: float | None = None) -> bool:
        """Whether the caller has no request left, without taking one."""
        if self.rate <= 0:
            return False
        bucket = self._buckets.get(key)
        if bucket is None:
            return self.burst < 1
        return self._level(bucket, time.monotonic() if now is None else now) < 1

    def _make_room(self, now: float) -> None:
        if len(self._buckets) < self.max_callers:
            return
        full_again = now - self._refill_seconds
        for key in [key for key, (_, last) in self._buckets.items() if last <= full_again]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_callers:
            del self._buckets[next(iter(self._buckets))]


def metadata_size(metadata: Any) -> int:
    """Bytes of the call's metadata, as HTTP/2 counts a header list (32 per entry)."""
    return sum(len(key) + len(value) + 32 for key, value in metadata or ())


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    code: grpc.StatusCode
    message: str


class AuthInterceptor(WrappingInterceptor):
    def __init__(
        self,
        tokens: TokenChecker,
        *,
        required: bool,
        limiter: RateLimiter,
        failure_limiter: RateLimiter | None = None,
        trusted_proxies: Sequence[Network] = (),
        recheck_seconds: float = 15.0,
        max_metadata_bytes: int = 16384,
    ) -> None:
        self.tokens = tokens
        self.required = required
        self.limiter = limiter
        self.failures = FailedAuthGuard(
            tokens, failure_limiter or RateLimiter(5, 20), trusted_proxies
        )
        self.recheck_seconds = recheck_seconds
        self.max_metadata_bytes = max_metadata_bytes

    async def _admit(self, rpc: str, metadata: Any, peer: str) -> Principal | Refusal:
        identified = await self.identify(rpc, metadata, peer)
        if isinstance(identified, Refusal):
            return identified
        key = identified.token_id or self.failures.caller(peer, metadata)
        if not self.limiter.allow(key):
            return Refusal(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"more than {self.limiter.rate:g} requests a second from this caller: slow down",
            )
        return identified

    async def identify(self, rpc: str, metadata: Any, peer: str) -> Principal | Refusal:
        """Who calls, from the call's metadata alone, or why the call is refused; the rate
        bucket is left for the admission. The HTTP side asks this before it reads a body."""
        size = metadata_size(metadata)
        if size > self.max_metadata_bytes:
            return Refusal(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the call's metadata is {size} bytes, more than the {self.max_metadata_bytes}"
                " this server accepts",
            )
        principal = ANONYMOUS
        if self.required:
            host = self.failures.caller(peer, metadata)
            if await self.failures.refuses(host, metadata):
                return Refusal(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    "too many failed authentications from this address: wait, then send a"
                    " valid token",
                )
            refusal = await self._authenticate(rpc, metadata)
            if isinstance(refusal, Refusal):
                if refusal.code is grpc.StatusCode.UNAUTHENTICATED:
                    self.failures.failed(host)
                return refusal
            principal = refusal
        return principal

    async def _authenticate(self, rpc: str, metadata: Any) -> Principal | Refusal:
        headers = authorization_headers(metadata)
        if not headers:
            return Refusal(grpc.StatusCode.UNAUTHENTICATED, "send authorization: Bearer <token>")
        if len(headers) > 1:
            return Refusal(
                grpc.StatusCode.UNAUTHENTICATED,
                f"send one authorization header, not {len(headers)}",
            )
        scheme, _, secret = headers[0].partition(" ")
        if scheme.lower() != "bearer" or not secret:
            return Refusal(
                grpc.StatusCode.UNAUTHENTICATED, "authorization must be 'Bearer <token>'"
            )
        try:
            found = await self.tokens.verify(bearer_secret(headers[0]))
        except Unavailable as error:
            return Refusal(grpc.StatusCode.UNAVAILABLE, error.message)
        except Exception:
            log.exception("checking a token failed")
            return Refusal(
                grpc.StatusCode.INTERNAL, "internal error; the server logged the details"
            )
        if found is None:
            return Refusal(grpc.StatusCode.UNAUTHENTICATED, "the token is unknown or revoked")
        needed = auth.required_role(rpc)
        if found.role < needed:
            return Refusal(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{rpc} needs the {needed.name.lower()} role; this token is {found.role.name.lower()}",
            )
        return found

    async def _let_in(self, rpc: str, context: Context, facts: CallFacts) -> None:
        """Admit the call (or abort it) and make its principal current."""
        admitted = await self._admit(rpc, facts.metadata, facts.peer)
        if isinstance(admitted, Refusal):
            await context.abort(admitted.code, admitted.message)
        assert isinstance(admitted, Principal)
        current_principal.set(admitted)

    def unary_stage(self, method: str) -> Stage:
        rpc = method.removeprefix(SERVICE_PREFIX)

        async def open_call(request: Any, context: Context, facts: CallFacts) -> None:
            await self._let_in(rpc, context, facts)

        return Stage(open_call)

    def stream_stage(self, method: str) -> Stage:
        rpc = method.removeprefix(SERVICE_PREFIX)

        async def open_stream(request: Any, context: Context, facts: CallFacts) -> _StreamAuth:
            await self._let_in(rpc, context, facts)
            return _StreamAuth(facts.metadata, time.monotonic())

        async def recheck(state: _StreamAuth, context: Context) -> None:
            if time.monotonic() - state.checked > self.recheck_seconds:
                state.checked = time.monotonic()
                if not await self._still_valid(state.metadata):
                    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "the token was revoked")

        return Stage(open_stream, after_response=recheck if self.required else None)

    async def _still_valid(self, metadata: Any) -> bool:
        (header,) = authorization_headers(metadata)  # admitted with exactly one
        try:
            return await self.tokens.verify(bearer_secret(header)) is not None
        except Unavailable:
            return True  # checked again at the next recheck; the stream goes on meanwhile
