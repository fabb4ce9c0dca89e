"""One handler frame runs every interceptor's stage around a stream or a unary call, as
nested wrappers would: opens outermost first, closes innermost first with the error the
call ends with, and an inner stage's failure hook sees errors before the outer ones do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tracking.service.wrapping import CallFacts, Stage, fuse_stream, fuse_unary


class Refused(Exception):
    pass


class _Context:
    """The two things the handler frame reads of a call's context."""

    def __init__(self) -> None:
        self.reads = 0

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        self.reads += 1
        return (("x-request-id", "r-1"),)

    def peer(self) -> str:
        return "ipv4:127.0.0.1:5000"


def _stage(name: str, seen: list[str], **behaviour: Any) -> Stage:
    async def open_stream(request: Any, context: Any, facts: CallFacts) -> str:
        seen.append(f"open {name} {dict(facts.metadata)['x-request-id']} {facts.peer}")
        if behaviour.get("refuse"):
            raise Refused(name)
        return name

    async def after(state: str, context: Any) -> None:
        seen.append(f"after {state}")

    async def fail(state: str | None, context: Any, error: BaseException) -> None:
        seen.append(f"fail {name} {type(error).__name__}")
        if behaviour.get("translate") and isinstance(error, ValueError):
            raise Refused(f"{name} translated")

    def close(state: str | None, context: Any, error: BaseException | None) -> None:
        seen.append(f"close {name} state={state} error={type(error).__name__}")

    return Stage(
        open_stream,
        after_response=after if behaviour.get("after") else None,
        fail=fail,
        close=close,
    )


def _run(stages: list[Stage], responses: list[Any]) -> tuple[list[Any], BaseException | None]:
    async def behavior(request: Any, context: Any) -> AsyncIterator[Any]:
        for response in responses:
            if isinstance(response, BaseException):
                raise response
            yield response

    async def consume() -> tuple[list[Any], BaseException | None]:
        got: list[Any] = []
        try:
            async for item in fuse_stream(stages, behavior)(None, _Context()):
                got.append(item)
        except BaseException as error:
            return got, error
        return got, None

    return asyncio.run(consume())


def test_a_stream_that_ends_opens_outermost_first_and_closes_innermost_first() -> None:
    seen: list[str] = []
    got, error = _run([_stage("a", seen), _stage("b", seen, after=True)], [1, 2])
    assert got == [1, 2]
    assert error is None
    assert seen == [
        "open a r-1 ipv4:127.0.0.1:5000",
        "open b r-1 ipv4:127.0.0.1:5000",
        "after b",
        "after b",
        "close b state=b error=NoneType",
        "close a state=a error=NoneType",
    ]


def test_an_inner_stage_translates_an_error_before_the_outer_stages_see_it() -> None:
    seen: list[str] = []
    got, error = _run(
        [_stage("outer", seen), _stage("inner", seen, translate=True)], [1, ValueError("boom")]
    )
    assert got == [1]
    assert isinstance(error, Refused)
    assert str(error) == "inner translated"
    assert seen[2:] == [
        "fail inner ValueError",
        "fail outer Refused",
        "close inner state=inner error=Refused",
        "close outer state=outer error=Refused",
    ]


def test_a_refused_open_is_seen_by_that_stage_and_the_outer_ones_only() -> None:
    seen: list[str] = []
    got, error = _run([_stage("a", seen), _stage("b", seen, refuse=True), _stage("c", seen)], [1])
    assert got == []
    assert isinstance(error, Refused)
    assert seen == [
        "open a r-1 ipv4:127.0.0.1:5000",
        "open b r-1 ipv4:127.0.0.1:5000",
        "fail b Refused",
        "fail a Refused",
        "close b state=None error=Refused",
        "close a state=a error=Refused",
    ]


def test_no_stage_leaves_the_behavior_as_it_is() -> None:
    async def behavior(request: Any, context: Any) -> AsyncIterator[Any]:
        yield 1

    assert fuse_stream([], behavior) is behavior


@pytest.mark.parametrize("cancel", [asyncio.CancelledError, GeneratorExit])
def test_a_stream_cut_short_closes_every_stage_with_that_error(cancel: type) -> None:
    seen: list[str] = []
    _, error = _run([_stage("a", seen), _stage("b", seen)], [1, cancel()])
    assert isinstance(error, cancel)
    assert seen[-2:] == [
        f"close b state=b error={cancel.__name__}",
        f"close a state=a error={cancel.__name__}",
    ]


def _run_unary(stages: list[Stage], outcome: Any) -> tuple[Any, BaseException | None, int]:
    async def behavior(request: Any, context: Any) -> Any:
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def call() -> tuple[Any, BaseException | None, int]:
        context = _Context()
        try:
            return await fuse_unary(stages, behavior)(None, context), None, context.reads
        except BaseException as error:
            return None, error, context.reads

    return asyncio.run(call())


def test_a_unary_call_opens_outermost_first_and_reads_its_metadata_once() -> None:
    seen: list[str] = []
    answer, error, reads = _run_unary([_stage("a", seen), _stage("b", seen)], "answer")
    assert (answer, error, reads) == ("answer", None, 1)
    assert seen == [
        "open a r-1 ipv4:127.0.0.1:5000",
        "open b r-1 ipv4:127.0.0.1:5000",
        "close b state=b error=NoneType",
        "close a state=a error=NoneType",
    ]


def test_a_unary_error_is_translated_by_the_inner_stage_before_the_outer_one_sees_it() -> None:
    seen: list[str] = []
    _, error, _ = _run_unary(
        [_stage("outer", seen), _stage("inner", seen, translate=True)], ValueError("boom")
    )
    assert isinstance(error, Refused)
    assert str(error) == "inner translated"
    assert seen[2:] == [
        "fail inner ValueError",
        "fail outer Refused",
        "close inner state=inner error=Refused",
        "close outer state=outer error=Refused",
    ]


def test_a_unary_call_refused_in_an_open_never_reaches_the_inner_stages() -> None:
    seen: list[str] = []
    _, error, _ = _run_unary(
        [_stage("a", seen), _stage("b", seen, refuse=True), _stage("c", seen)], "answer"
    )
    assert isinstance(error, Refused)
    assert seen == [
        "open a r-1 ipv4:127.0.0.1:5000",
        "open b r-1 ipv4:127.0.0.1:5000",
        "fail b Refused",
        "fail a Refused",
        "close b state=None error=Refused",
        "close a state=a error=Refused",
    ]


def test_no_stage_leaves_a_unary_behavior_as_it_is() -> None:
    async def behavior(request: Any, context: Any) -> Any:
        return 1

    assert fuse_unary([], behavior) is behavior
