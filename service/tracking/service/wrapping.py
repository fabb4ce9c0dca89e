"""The one way the interceptors wrap TrackingService handlers.

An interceptor subclasses WrappingInterceptor and says what it does around a unary call
and around a server-streaming one (a Stage each). The stages are fused once per method,
when the service is registered (api/registration.py), not by gRPC's interceptor pipeline
on every call: each call then runs one handler frame that runs every stage around the
behavior (fuse_unary, fuse_stream) and reads its metadata from its context. One frame, not
one nested wrapper per interceptor: an idle watcher keeps every frame of its stream alive
for as long as it waits, and every frame a unary call passes through costs it. Handlers of
other services (health, reflection) follow conventions of their own and are not wrapped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from tracking.service.domain.errors import Violation

SERVICE_PREFIX = "/tracking.v1.TrackingService/"

Context = grpc.aio.ServicerContext[Any, Any]
Unary = Callable[[Any, Context], Awaitable[Any]]
Stream = Callable[[Any, Context], AsyncIterator[Any]]


class Malformed:
    """Stands for a request that does not parse or holds values no handler may see (see
    api/registration.py); the error interceptor answers INVALID_ARGUMENT naming them."""

    def __init__(self, message_type: str, violations: list[Violation] | None = None) -> None:
        self.message_type = message_type
        self.violations = violations or [
            Violation("request", f"is not a valid {message_type} message")
        ]


@dataclass(slots=True)  # not frozen: a frozen dataclass is slower to make, once a call
class CallFacts:
    """What the stages read of a call, read from its context once by the handler frame
    (gRPC builds the metadata tuple and the peer string anew at each ask, and asking a
    cancelled call for its peer can crash)."""

    metadata: Any  # (key, value) pairs: grpc's Metadata, or a tuple over HTTP
    peer: str


@dataclass(frozen=True)
class Stage:
    """What one interceptor does around a call.

    - `open(request, context, facts)` runs before the behavior and returns the stage's
      state (it may refuse the call by aborting);
    - `after_response(state, context)` runs after each response of a stream is sent;
    - `fail(state, context, error)` sees an error raised inside the stage (its own open,
      the inner stages', the behavior's) and may raise another in its place;
    - `close(state, context, error)` runs last, with the error the call ends with (None
      when it ended normally), for every stage that began to open.
    """

    open: Callable[[Any, Context, CallFacts], Awaitable[Any]]
    after_response: Callable[[Any, Context], Awaitable[None]] | None = None
    fail: Callable[[Any, Context, BaseException], Awaitable[None]] | None = None
    close: Callable[[Any, Context, BaseException | None], None] | None = None


class WrappingInterceptor:
    """What one interceptor does around the calls of a TrackingService method (`method` is
    its full path); None: nothing."""

    def unary_stage(self, method: str) -> Stage | None:
        return None

    def stream_stage(self, method: str) -> Stage | None:
        return None


def fuse_unary(stages: Sequence[Stage], behavior: Unary) -> Unary:
    """One handler running `stages` (outermost first) around a unary behavior, as if each
    stage wrapped the next, in a single frame."""
    if not stages:
        return behavior
    closes = [(index, s.close) for index, s in enumerate(stages) if s.close][::-1]
    fails = [(index, s.fail) for index, s in enumerate(stages) if s.fail][::-1]

    async def unary(request: Any, context: Context) -> Any:
        states: list[Any] = []
        failure: BaseException | None = None
        try:
            facts = CallFacts(context.invocation_metadata() or (), context.peer())
            for stage in stages:
                states.append(None)  # a stage's own open is inside it
                states[-1] = await stage.open(request, context, facts)
            return await behavior(request, context)
        except BaseException as raised:
            failure = raised
            opened = len(states)
            for index, fail in fails:
                if index < opened:
                    try:
                        await fail(states[index], context, failure)
                    except BaseException as replaced:
                        failure = replaced
            if failure is raised:
                raise
            raise failure from raised
        finally:
            opened = len(states)
            for index, close in closes:
                if index < opened:
                    close(states[index], context, failure)

    return unary


def fuse_stream(stages: Sequence[Stage], behavior: Stream) -> Stream:
    """One handler running `stages` (outermost first) around a streaming behavior, as if
    each stage wrapped the next, in a single frame."""
    if not stages:
        return behavior
    after_each = [(index, s.after_response) for index, s in enumerate(stages) if s.after_response]

    async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
        states: list[Any] = []
        failure: BaseException | None = None
        try:
            facts = CallFacts(context.invocation_metadata() or (), context.peer())
            for stage in stages:
                states.append(None)  # a stage's own open is inside it
                states[-1] = await stage.open(request, context, facts)
            async for response in behavior(request, context):
                yield response
                for index, after in after_each:
                    await after(states[index], context)
        except BaseException as raised:
            failure = raised
            for stage, state in reversed(list(zip(stages, states, strict=False))):
                if stage.fail is not None:
                    try:
                        await stage.fail(state, context, failure)
                    except BaseException as replaced:
                        failure = replaced
            if failure is raised:
                raise
            raise failure from raised
        finally:
            for stage, state in reversed(list(zip(stages, states, strict=False))):
                if stage.close is not None:
                    stage.close(state, context, failure)

    return stream
