"""Retry of safe calls on UNAVAILABLE: bounded attempts, exponential backoff, full jitter.

Only UNAVAILABLE is retried: the server did not take the call, or is going away; and a call
cut off on the far side (`cut_off`): reset by a proxy, which a client behind nginx sees when
the replica behind it dies, or cancelled by a server that stops. DEADLINE_EXCEEDED is not,
since the call may still be running on the server.
Which calls are safe to repeat is declared in `methods`. The streams that resume by
themselves (`resume`) use the same backoff, and also resume after RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

T = TypeVar("T")

RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE})


def reset_by_proxy(err: grpc.RpcError) -> bool:
    """INTERNAL from an HTTP/2 RST_STREAM: a proxy between the client and the server (nginx's
    grpc_pass) ended the call because the server behind it went away. The server never ends
    a call that way itself (its errors carry a status), so a safe call may be sent again
    and a stream resumed, as after UNAVAILABLE."""
    code = err.code() if callable(getattr(err, "code", None)) else None
    details = err.details() if callable(getattr(err, "details", None)) else None
    return code == grpc.StatusCode.INTERNAL and "RST_STREAM" in (details or "")


# What grpcio says of a call this side cancelled (cancel(), garbage collection, a closed
# channel; grpc.aio raises asyncio.CancelledError instead).
LOCAL_CANCELLATIONS = frozenset(
    {"Locally cancelled by application!", "Cancelled upon garbage collection!", "Channel closed!"}
)


def cancelled_remotely(err: grpc.RpcError) -> bool:
    """CANCELLED that this side did not ask for: a server that stops cancels the calls it has
    not answered (behind nginx, a draining replica's last calls come back so). The server's
    own errors carry another status, so as after UNAVAILABLE the call may or may not have
    been applied: a safe call may be sent again and a stream resumed."""
    code = err.code() if callable(getattr(err, "code", None)) else None
    details = err.details() if callable(getattr(err, "details", None)) else None
    return code == grpc.StatusCode.CANCELLED and details not in LOCAL_CANCELLATIONS


def cut_off(err: grpc.RpcError) -> bool:
    """The call was ended on the far side without an answer of the server's own."""
    return reset_by_proxy(err) or cancelled_remotely(err)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before calling again.

    The delay before retry n (from 1) is drawn uniformly from
    [0, min(max_backoff, initial_backoff * multiplier ** (n - 1))].
    `sleep`, `async_sleep` and `rand` (uniform in [0, 1)) are injectable for tests.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.5
    max_backoff: float = 10.0
    multiplier: float = 2.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, compare=False, repr=False
    )
    rand: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoffs must not be negative")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")

    def backoff(self, retry: int) -> float:
        """Delay in seconds before retry number `retry` (1 for the second attempt)."""
        # The exponent stops growing long after the cap is reached: a float power overflows.
        exponent = min(retry - 1, 64)
        cap = min(self.max_backoff, self.initial_backoff * self.multiplier**exponent)
        return cap * self.rand()

    def should_retry(self, err: grpc.RpcError, attempt: int) -> bool:
        """Whether attempt number `attempt` (from 1), which failed with `err`, gets another."""
        code = err.code() if callable(getattr(err, "code", None)) else None
        return attempt < self.max_attempts and (code in RETRYABLE_CODES or cut_off(err))


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(max_attempts=1)


def call_with_retry(call: Callable[[], T], policy: RetryPolicy) -> T:
    """Run `call`, again after a backoff while the policy allows; re-raise the last error."""
    attempt = 1
    while True:
        try:
            return call()
        except grpc.RpcError as err:
            if not policy.should_retry(err, attempt):
                raise
        policy.sleep(policy.backoff(attempt))
        attempt += 1


async def async_call_with_retry(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """The coroutine counterpart of call_with_retry."""
    attempt = 1
    while True:
        try:
            return await call()
        except grpc.RpcError as err:
            if not policy.should_retry(err, attempt):
                raise
        await policy.async_sleep(policy.backoff(attempt))
        attempt += 1
