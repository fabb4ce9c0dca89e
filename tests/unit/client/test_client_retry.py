from typing import Any

import grpc
import pytest

from tracking.client import RetryPolicy
from tracking.client.retry import async_call_with_retry, call_with_retry


class CodeError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str = "") -> None:
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def policy(
    sleeps: list[float], *, max_attempts: int = 4, initial_backoff: float = 0.5
) -> RetryPolicy:
    """A policy recording its sleeps instead of sleeping, with no jitter."""

    async def async_sleep(delay: float) -> None:
        sleeps.append(delay)

    return RetryPolicy(
        max_attempts=max_attempts,
        initial_backoff=initial_backoff,
        sleep=sleeps.append,
        async_sleep=async_sleep,
        rand=lambda: 1.0,
    )


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    p = RetryPolicy(initial_backoff=0.5, multiplier=2.0, max_backoff=3.0, rand=lambda: 1.0)
    assert [p.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_backoff_is_fully_jittered() -> None:
    p = RetryPolicy(initial_backoff=0.5, multiplier=2.0, max_backoff=3.0, rand=lambda: 0.25)
    assert [p.backoff(n) for n in range(1, 5)] == [0.125, 0.25, 0.5, 0.75]
    assert RetryPolicy(rand=lambda: 0.0).backoff(3) == 0.0


def test_only_unavailable_is_retried_and_attempts_are_bounded() -> None:
    p = RetryPolicy(max_attempts=3)
    unavailable = CodeError(grpc.StatusCode.UNAVAILABLE)
    assert p.should_retry(unavailable, 1)
    assert p.should_retry(unavailable, 2)
    assert not p.should_retry(unavailable, 3)
    assert not p.should_retry(CodeError(grpc.StatusCode.DEADLINE_EXCEEDED), 1)
    assert not p.should_retry(CodeError(grpc.StatusCode.INTERNAL), 1)
    assert not p.should_retry(grpc.RpcError(), 1)


def test_a_call_reset_by_a_proxy_is_retried() -> None:
    # What grpcio reports when nginx resets a call because the replica behind it died.
    reset = "Stream removed (RST_STREAM (Received RST_STREAM with error code 2))"
    p = RetryPolicy(max_attempts=2)
    assert p.should_retry(CodeError(grpc.StatusCode.INTERNAL, reset), 1)
    assert not p.should_retry(CodeError(grpc.StatusCode.INTERNAL, reset), 2)
    assert not p.should_retry(CodeError(grpc.StatusCode.INTERNAL, "a bug"), 1)


def test_a_call_a_stopping_server_cancelled_is_retried_and_one_cancelled_here_is_not() -> None:
    # What grpcio reports when a draining replica behind nginx cancels a call it had not
    # answered, and what it reports when this side cancelled.
    p = RetryPolicy(max_attempts=2)
    assert p.should_retry(CodeError(grpc.StatusCode.CANCELLED, "CANCELLED"), 1)
    assert not p.should_retry(CodeError(grpc.StatusCode.CANCELLED, "CANCELLED"), 2)
    for local in ("Locally cancelled by application!", "Channel closed!"):
        assert not p.should_retry(CodeError(grpc.StatusCode.CANCELLED, local), 1)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"initial_backoff": -1.0}, {"max_backoff": -1.0}, {"multiplier": 0.5}],
)
def test_invalid_policies_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**kwargs)


def test_call_with_retry_sleeps_between_attempts_then_succeeds() -> None:
    sleeps: list[float] = []
    outcomes: list[Exception | str] = [
        CodeError(grpc.StatusCode.UNAVAILABLE),
        CodeError(grpc.StatusCode.UNAVAILABLE),
        "ok",
    ]

    def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert call_with_retry(call, policy(sleeps, initial_backoff=1.0)) == "ok"
    assert sleeps == [1.0, 2.0]


def test_call_with_retry_gives_up_after_max_attempts() -> None:
    sleeps: list[float] = []
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        raise CodeError(grpc.StatusCode.UNAVAILABLE)

    with pytest.raises(CodeError):
        call_with_retry(call, policy(sleeps, max_attempts=4))
    assert len(calls) == 4
    assert len(sleeps) == 3


def test_call_with_retry_does_not_retry_deadline_exceeded() -> None:
    sleeps: list[float] = []
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        raise CodeError(grpc.StatusCode.DEADLINE_EXCEEDED)

    with pytest.raises(CodeError):
        call_with_retry(call, policy(sleeps))
    assert (len(calls), sleeps) == (1, [])


async def test_async_call_with_retry() -> None:
    sleeps: list[float] = []
    outcomes: list[Exception | str] = [CodeError(grpc.StatusCode.UNAVAILABLE), "ok"]

    async def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert await async_call_with_retry(call, policy(sleeps, initial_backoff=0.5)) == "ok"
    assert sleeps == [0.5]


async def test_async_call_with_retry_stops_on_other_codes() -> None:
    sleeps: list[float] = []

    async def call() -> str:
        raise CodeError(grpc.StatusCode.ABORTED)

    with pytest.raises(CodeError):
        await async_call_with_retry(call, policy(sleeps))
    assert sleeps == []
