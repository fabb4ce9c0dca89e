"""Calling the server again until it answers, for a worker that must not lose what it reports."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from tracking.client import RemoteException
from tracking.client.retry import cut_off

T = TypeVar("T")

# A call that failed this way may or may not have been applied by the server.
UNCERTAIN = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
# Failures worth waiting out: the server is away, slow, or asks us to slow down.
TRANSIENT = UNCERTAIN | {grpc.StatusCode.RESOURCE_EXHAUSTED}


def _cut_off(error: RemoteException) -> bool:
    """The call was reset by a proxy whose server went away, or cancelled by a server that
    stopped: uncertain, as UNAVAILABLE is."""
    cause = error.__cause__
    return isinstance(cause, grpc.RpcError) and cut_off(cause)


class Deadline:
    """When to stop retrying: never, until `give_up_in` is called."""

    def __init__(self) -> None:
        self._at: float | None = None

    def give_up_in(self, seconds: float) -> None:
        """Stop retrying `seconds` from now, or earlier if an earlier time was already set."""
        at = time.monotonic() + seconds
        self._at = at if self._at is None else min(self._at, at)

    def passed(self) -> bool:
        return self._at is not None and time.monotonic() >= self._at


async def persist(
    attempt: Callable[[bool], Awaitable[T]],
    deadline: Deadline,
    *,
    max_backoff: float = 5.0,
) -> T:
    """Call `attempt` until it succeeds, waiting out transient failures with a jittered backoff.

    `attempt` is told whether an earlier try may have been applied already (its failure was
    uncertain), so that it can check before doing it again. Other failures, and transient
    ones once `deadline` has passed, are raised.
    """
    uncertain = False
    retry = 0
    while True:
        try:
            return await attempt(uncertain)
        except RemoteException as error:
            reset = _cut_off(error)
            if (error.code not in TRANSIENT and not reset) or deadline.passed():
                raise
            uncertain = uncertain or error.code in UNCERTAIN or reset
        retry += 1
        await asyncio.sleep(min(max_backoff, 0.1 * 2**retry) * (0.5 + random.random() / 2))
