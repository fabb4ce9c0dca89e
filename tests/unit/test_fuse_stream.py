"""One handler frame runs every interceptor's stage around a stream, as nested wrappers
would: opens outermost first, closes innermost first with the error the call ends with,
and an inner stage's failure hook sees errors before the outer ones do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tracking.service.wrapping import StreamStage, fuse_stream


class Refused(Exception):
    pass


def _stage(name: str, seen: list[str], **behaviour: Any) -> StreamStage:
    async def open_stream(request: Any, context: Any) -> str:
        seen.append(f"open {name}")
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

    return StreamStage(
        open_stream,
        after_response=after if behaviour.get("after") else None,
        fail=fail,
        close=close,
    )


def _run(stages: list[StreamStage], responses: list[Any]) -> tuple[list[Any], BaseException | None]:
    async def behavior(request: Any, context: Any) -> AsyncIterator[Any]:
        for response in responses:
            if isinstance(response, BaseException):
                raise response
            yield response

    async def consume() -> tuple[list[Any], BaseException | None]:
        got: list[Any] = []
        try:
            async for item in fuse_stream(stages, behavior)(None, None):
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
        "open a",
        "open b",
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
        "open a",
        "open b",
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
