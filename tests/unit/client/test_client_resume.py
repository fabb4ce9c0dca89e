"""watch() and follow_logs() of both clients against a scripted server: a real grpc.server
(threads) on port 0 whose WatchStatus and StreamLogs answer from a script, call by call.

These cover what a real tracking server cannot be made to do on cue: fail several times in
a row, fail right after a message, send a line or an event twice. Each test runs with the
blocking client and with the asyncio one; the policy records its backoffs instead of
sleeping. What a user sees against the real server is in
tests/integration/test_client_resume.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from tests.unit.client.test_clients import Fail, Stream
from tracking.client import (
    AsyncTrackingClient,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RemoteException,
    ResourceExhausted,
    RetryPolicy,
    TrackingClient,
    Unavailable,
    to_timestamp,
)
from tracking.client.resume import Reconnects, StatusWatch
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import status_pb2 as spb
from tracking.v1 import tracking_service_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["TrackingService"]
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
RUNNING = spb.RUNNING_STATUS_RUNNING
SUCCESS = spb.RUNNING_STATUS_SUCCESS
DELETED = epb.CHANGE_KIND_DELETED
STDERR = epb.LOG_STREAM_STDERR
SINCE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

TYPES: dict[str, tuple[type[Message], type[Message]]] = {
    "WatchStatus": (pb.WatchStatusRequest, pb.WatchStatusResponse),
    "StreamLogs": (pb.StreamLogsRequest, pb.StreamLogsResponse),
}


class ScriptedStreams:
    """Answers each WatchStatus / StreamLogs call with the next entry of its script.

    A call with nothing left in its script fails with INTERNAL "unscripted".
    """

    def __init__(self) -> None:
        self.script: dict[str, list[Fail | Stream]] = defaultdict(list)
        self.requests: dict[str, list[Any]] = defaultdict(list)
        self.deadlines: list[float | None] = []
        self.cancelled = threading.Event()  # a held stream was ended by the client
        self.lock = threading.Lock()
        self.server = grpc.server(ThreadPoolExecutor(max_workers=4))
        handlers = {
            rpc: grpc.unary_stream_rpc_method_handler(
                self._handler(rpc),
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString,
            )
            for rpc, (request, response) in TYPES.items()
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),)
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def answer(self, rpc: str, *answers: Fail | Stream) -> None:
        self.script[rpc].extend(answers)

    def _handler(self, rpc: str) -> Callable[[Message, grpc.ServicerContext], Iterator[Message]]:
        def stream(request: Message, context: grpc.ServicerContext) -> Iterator[Message]:
            with self.lock:
                self.requests[rpc].append(request)
                self.deadlines.append(context.time_remaining())
                script = self.script[rpc]
                answer = script.pop(0) if script else Fail(grpc.StatusCode.INTERNAL, "unscripted")
            if isinstance(answer, Fail):
                context.abort(answer.code, answer.details)
            assert isinstance(answer, Stream)
            if answer.hold:
                # Only the client ends a held stream, maybe while a response is on its way
                # (the handler is then not resumed): watch for the end from the start.
                context.add_callback(self.cancelled.set)
            yield from answer.responses
            if answer.error is not None:
                context.abort(answer.error.code, answer.error.details)
            if answer.hold:
                self.cancelled.wait(120)

        return stream


@pytest.fixture
def scripted() -> Iterator[ScriptedStreams]:
    server = ScriptedStreams()
    yield server
    server.server.stop(None)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def policy(
    sleeps: list[float],
    *,
    max_attempts: int = 4,
    initial_backoff: float = 1.0,
    max_backoff: float = 30.0,
    rand: Callable[[], float] = lambda: 1.0,
) -> RetryPolicy:
    """A policy (multiplier 2) that records its backoffs instead of sleeping."""

    async def async_sleep(delay: float) -> None:
        sleeps.append(delay)

    return RetryPolicy(
        max_attempts=max_attempts,
        initial_backoff=initial_backoff,
        max_backoff=max_backoff,
        multiplier=2.0,
        sleep=sleeps.append,
        async_sleep=async_sleep,
        rand=rand,
    )


async def collect(
    kind: str,
    address: str,
    retry: RetryPolicy,
    method: str,
    *args: Any,
    into: list[Any] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Everything `method` of the `kind` client yields, appended to `into` as it comes."""
    items: list[Any] = [] if into is None else into
    if kind == "sync":

        def run() -> list[Any]:
            with TrackingClient(address, retry=retry) as client:
                for item in getattr(client, method)(*args, **kwargs):
                    items.append(item)
            return items

        return await asyncio.to_thread(run)
    async with AsyncTrackingClient(address, retry=retry) as client:
        async for item in getattr(client, method)(*args, **kwargs):
            items.append(item)
    return items


def event(
    revision: int,
    status: int = RUNNING,
    *,
    execution_id: str = "e1",
    token: str = "",
    snapshot: bool = False,
    changes: tuple[int, ...] = (),
) -> pb.WatchStatusResponse:
    return pb.WatchStatusResponse(
        event=epb.ExecutionEvent(
            execution_id=execution_id,
            revision=revision,
            job_status=spb.JobStatus(status=status, revision=revision),
            resume_token=token,
            snapshot=snapshot,
            changes=changes,
        )
    )


def snapshot(revision: int, status: int = RUNNING, **fields: Any) -> pb.WatchStatusResponse:
    return event(revision, status, snapshot=True, **fields)


HEARTBEAT = pb.WatchStatusResponse(heartbeat=pb.Heartbeat())
LOG_HEARTBEAT = pb.StreamLogsResponse(heartbeat=pb.Heartbeat())


def lines(*seqs: int) -> pb.StreamLogsResponse:
    return pb.StreamLogsResponse(entries=[epb.LogEntry(seq=s, message=f"m{s}") for s in seqs])


def revisions(events: list[epb.ExecutionEvent]) -> list[int]:
    return [e.revision for e in events]


def watch_request(after_revision: int = 0) -> pb.WatchStatusRequest:
    return pb.WatchStatusRequest(execution_id="e1", after_revision=after_revision)


# Backoff


async def test_backoff_is_exponential_jittered_and_capped(
    kind: str, scripted: ScriptedStreams
) -> None:
    scripted.answer(
        "WatchStatus",
        *[Fail(UNAVAILABLE, "restarting")] * 4,
        Stream((snapshot(1), event(2, SUCCESS))),
    )
    sleeps: list[float] = []
    draws = iter([0.25, 0.5, 0.75, 1.0])
    retry = policy(sleeps, max_attempts=5, max_backoff=3.0, rand=lambda: next(draws))
    events = await collect(kind, scripted.address, retry, "watch", execution_id="e1")
    assert revisions(events) == [1, 2]
    # Caps 1, 2, min(3, 4), min(3, 8), each scaled by its draw.
    assert sleeps == [0.25, 1.0, 2.25, 3.0]
    assert scripted.requests["WatchStatus"] == [watch_request()] * 5


async def test_random_jitter_stays_within_the_caps(kind: str, scripted: ScriptedStreams) -> None:
    failures = 9
    scripted.answer("StreamLogs", *[Fail(EXHAUSTED, "busy")] * failures, Stream((lines(1, 2),)))
    sleeps: list[float] = []
    retry = policy(
        sleeps,
        max_attempts=failures + 1,
        initial_backoff=0.5,
        max_backoff=8.0,
        rand=random.Random(7).random,
    )
    entries = await collect(kind, scripted.address, retry, "follow_logs", "e1")
    assert [e.seq for e in entries] == [1, 2]
    caps = [min(8.0, 0.5 * 2 ** (n - 1)) for n in range(1, failures + 1)]
    assert len(sleeps) == failures
    for delay, cap in zip(sleeps, caps, strict=True):
        assert 0 <= delay <= cap
    assert sleeps != caps  # drawn, not the caps themselves


@pytest.mark.parametrize(
    ("code", "error"), [(UNAVAILABLE, Unavailable), (EXHAUSTED, ResourceExhausted)]
)
async def test_gives_up_after_max_attempts_failures_in_a_row(
    kind: str, scripted: ScriptedStreams, code: grpc.StatusCode, error: type[RemoteException]
) -> None:
    scripted.answer("WatchStatus", *[Fail(code, "still down")] * 4)
    sleeps: list[float] = []
    with pytest.raises(error, match="still down") as caught:
        await collect(kind, scripted.address, policy(sleeps), "watch", execution_id="e1")
    assert isinstance(caught.value.__cause__, grpc.RpcError)
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(scripted.requests["WatchStatus"]) == 4


async def test_the_failure_count_starts_over_after_a_message(
    kind: str, scripted: ScriptedStreams
) -> None:
    scripted.answer(
        "WatchStatus",
        Stream((snapshot(1), event(2)), Fail(UNAVAILABLE)),
        Fail(UNAVAILABLE),
        Fail(EXHAUSTED),
        Stream((event(3),), Fail(EXHAUSTED)),
        Fail(UNAVAILABLE),
        Fail(UNAVAILABLE),
        Stream((event(4, SUCCESS),)),
    )
    sleeps: list[float] = []
    events = await collect(kind, scripted.address, policy(sleeps), "watch", execution_id="e1")
    assert revisions(events) == [1, 2, 3, 4]
    # Six failures, never four in a row: the backoff grows, then starts over after event 3.
    assert sleeps == [1.0, 2.0, 4.0, 1.0, 2.0, 4.0]
    after = [r.after_revision for r in scripted.requests["WatchStatus"]]
    assert after == [0, 2, 2, 2, 3, 3, 3]


async def test_a_stream_a_proxy_reset_resumes_from_its_cursor(
    kind: str, scripted: ScriptedStreams
) -> None:
    # What grpcio reports when nginx resets a stream because the replica behind it died.
    reset = "Stream removed (RST_STREAM (Received RST_STREAM with error code 2))"
    scripted.answer(
        "WatchStatus",
        Stream((snapshot(1), event(2)), Fail(grpc.StatusCode.INTERNAL, reset)),
        Stream((event(3, SUCCESS),)),
    )
    events = await collect(kind, scripted.address, policy([]), "watch", execution_id="e1")
    assert revisions(events) == [1, 2, 3]
    assert scripted.requests["WatchStatus"] == [watch_request(0), watch_request(2)]


async def test_a_stream_a_stopping_server_cancelled_resumes_from_its_cursor(
    kind: str, scripted: ScriptedStreams
) -> None:
    # What grpcio reports when a draining replica behind nginx cancels a stream at its end.
    scripted.answer(
        "WatchStatus",
        Stream((snapshot(1), event(2)), Fail(grpc.StatusCode.CANCELLED, "CANCELLED")),
        Stream((event(3, SUCCESS),)),
    )
    events = await collect(kind, scripted.address, policy([]), "watch", execution_id="e1")
    assert revisions(events) == [1, 2, 3]
    assert scripted.requests["WatchStatus"] == [watch_request(0), watch_request(2)]


async def test_a_heartbeat_counts_as_a_message(kind: str, scripted: ScriptedStreams) -> None:
    scripted.answer(
        "WatchStatus",
        Stream((snapshot(1), HEARTBEAT), Fail(UNAVAILABLE)),
        *[Stream((HEARTBEAT,), Fail(UNAVAILABLE))] * 3,
        Stream((HEARTBEAT, event(2, SUCCESS))),
    )
    sleeps: list[float] = []
    retry = policy(sleeps, max_attempts=2)
    events = await collect(kind, scripted.address, retry, "watch", execution_id="e1")
    assert revisions(events) == [1, 2]  # heartbeats are not yielded
    assert sleeps == [1.0] * 4
    assert [r.after_revision for r in scripted.requests["WatchStatus"]] == [0, 1, 1, 1, 1]


def test_reconnects_keep_within_the_timeout() -> None:
    class Code(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return UNAVAILABLE

    now = [100.0]
    reconnects = Reconnects(policy([], initial_backoff=4.0), timeout=10.0, clock=lambda: now[0])
    stream = StatusWatch(execution_id="e1")
    assert reconnects.remaining() == 10.0
    now[0] = 103.0
    assert reconnects.delay_after(Code(), stream) == 4.0
    now[0] = 107.0
    assert reconnects.delay_after(Code(), stream) == 3.0  # 8 s drawn, 3 s left
    now[0] = 110.0
    with pytest.raises(DeadlineExceeded, match="timeout"):
        reconnects.remaining()


async def test_timeout_bounds_the_stream(kind: str, scripted: ScriptedStreams) -> None:
    scripted.answer("WatchStatus", Fail(UNAVAILABLE), Stream((snapshot(1),), hold=True))
    sleeps: list[float] = []
    received: list[epb.ExecutionEvent] = []
    with pytest.raises(DeadlineExceeded):
        await collect(
            kind,
            scripted.address,
            policy(sleeps),
            "watch",
            execution_id="e1",
            timeout=1.0,
            into=received,
        )
    assert revisions(received) == [1]
    # Both calls carry what is left of the one timeout (gRPC rounds deadlines up a little).
    assert len(scripted.deadlines) == 2
    assert all(d is not None and 0 < d <= 2.0 for d in scripted.deadlines)


# What is never resumed


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (grpc.StatusCode.NOT_FOUND, NotFound),
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgument),
        (grpc.StatusCode.FAILED_PRECONDITION, FailedPrecondition),
        (grpc.StatusCode.PERMISSION_DENIED, PermissionDenied),
        (grpc.StatusCode.DEADLINE_EXCEEDED, DeadlineExceeded),
        (grpc.StatusCode.INTERNAL, Internal),
    ],
    ids=lambda v: v.name if isinstance(v, grpc.StatusCode) else "",
)
@pytest.mark.parametrize("method", ["watch", "follow_logs"])
async def test_other_errors_are_raised_at_once(
    kind: str,
    scripted: ScriptedStreams,
    method: str,
    code: grpc.StatusCode,
    error: type[RemoteException],
) -> None:
    rpc, first = ("WatchStatus", snapshot(1)) if method == "watch" else ("StreamLogs", lines(1))
    scripted.answer(rpc, Stream((first,), Fail(code, "no way")))
    sleeps: list[float] = []
    received: list[Message] = []
    with pytest.raises(error, match="no way"):
        await collect(
            kind, scripted.address, policy(sleeps), method, execution_id="e1", into=received
        )
    assert len(received) == 1
    assert sleeps == []
    assert len(scripted.requests[rpc]) == 1


# Cursors and duplicates


async def test_watch_never_yields_a_revision_twice(kind: str, scripted: ScriptedStreams) -> None:
    scripted.answer(
        "WatchStatus",
        Stream((snapshot(1), event(2), event(3)), Fail(UNAVAILABLE)),
        # A server that replays what the cursor already covers.
        Stream((event(2), event(3), event(4), event(3), event(5, SUCCESS))),
    )
    events = await collect(kind, scripted.address, policy([]), "watch", execution_id="e1")
    assert revisions(events) == [1, 2, 3, 4, 5]
    assert scripted.requests["WatchStatus"] == [watch_request(0), watch_request(3)]


async def test_watch_from_a_revision_skips_older_ones(kind: str, scripted: ScriptedStreams) -> None:
    scripted.answer("WatchStatus", Stream((event(4), event(5), event(6, SUCCESS))))
    events = await collect(
        kind, scripted.address, policy([]), "watch", execution_id="e1", after_revision=5
    )
    assert revisions(events) == [6]


@pytest.mark.parametrize(
    "final",
    [event(3, SUCCESS), event(3, RUNNING, changes=(DELETED,))],
    ids=["terminal", "deleted"],
)
async def test_nothing_is_resumed_after_the_last_event(
    kind: str, scripted: ScriptedStreams, final: pb.WatchStatusResponse
) -> None:
    # After the terminal (or DELETED) event the server ends the stream: an error in between
    # loses nothing, and a new call could only find the execution gone.
    scripted.answer(
        "WatchStatus", Stream((snapshot(1), event(2), final), Fail(UNAVAILABLE, "shutting down"))
    )
    sleeps: list[float] = []
    events = await collect(kind, scripted.address, policy(sleeps), "watch", execution_id="e1")
    assert revisions(events) == [1, 2, 3]
    assert sleeps == []
    assert len(scripted.requests["WatchStatus"]) == 1


async def test_a_terminal_snapshot_ends_the_watch(kind: str, scripted: ScriptedStreams) -> None:
    scripted.answer("WatchStatus", Stream((snapshot(7, SUCCESS),), Fail(UNAVAILABLE)))
    events = await collect(kind, scripted.address, policy([]), "watch", execution_id="e1")
    assert revisions(events) == [7]
    assert events[0].snapshot
    assert len(scripted.requests["WatchStatus"]) == 1


async def test_closing_the_iterator_cancels_the_call(kind: str, scripted: ScriptedStreams) -> None:
    scripted.answer("StreamLogs", Stream((lines(1, 2),), hold=True))
    if kind == "sync":

        def first() -> tuple[int, bool]:
            with TrackingClient(scripted.address, retry=policy([])) as client:
                logs = client.follow_logs("e1")
                entry = next(logs)
                logs.close()
                return entry.seq, scripted.cancelled.wait(60)

        seq, cancelled = await asyncio.to_thread(first)
    else:
        async with AsyncTrackingClient(scripted.address, retry=policy([])) as client:
            logs = client.follow_logs("e1")
            seq = (await anext(logs)).seq
            await logs.aclose()
            cancelled = await asyncio.to_thread(scripted.cancelled.wait, 60)
    assert seq == 1
    assert cancelled  # before the channel was closed


async def test_a_deployment_watch_resumes_from_the_last_token(
    kind: str, scripted: ScriptedStreams
) -> None:
    def ev(execution_id: str, revision: int, token: str, **fields: Any) -> pb.WatchStatusResponse:
        return event(revision, execution_id=execution_id, token=token, **fields)

    scripted.answer(
        "WatchStatus",
        Stream(
            (
                ev("a", 4, "t0", snapshot=True),
                ev("b", 2, "t0", snapshot=True),
                HEARTBEAT,
                ev("a", 5, "t1"),
            ),
            Fail(UNAVAILABLE),
        ),
        Stream((HEARTBEAT,), Fail(EXHAUSTED)),
        Stream(
            (
                ev("a", 5, "t1"),  # replayed: dropped
                ev("b", 2, "t2"),  # older than the snapshot: dropped, but its token counts
                ev("b", 3, "t3"),
                ev("b", 4, "t4", changes=(DELETED,)),
            ),
            Fail(UNAVAILABLE),
        ),
        # A new execution under the same id starts over at revision 1.
        Stream((ev("b", 1, "t5"), ev("a", 6, "t6", status=SUCCESS), ev("a", 6, "t6"))),
    )
    events = await collect(kind, scripted.address, policy([]), "watch", deployment_name="nightly")
    assert [(e.execution_id, e.revision) for e in events] == [
        ("a", 4),
        ("b", 2),
        ("a", 5),
        ("b", 3),
        ("b", 4),
        ("b", 1),
        ("a", 6),
    ]
    requests = scripted.requests["WatchStatus"]
    assert requests == [
        pb.WatchStatusRequest(deployment_name="nightly", resume_token=token)
        for token in ["", "t1", "t1", "t4"]
    ]


async def test_follow_logs_unbatches_and_resumes_after_the_last_seq(
    kind: str, scripted: ScriptedStreams
) -> None:
    since = to_timestamp(SINCE)
    first = pb.StreamLogsRequest(execution_id="e1", tail=2, since=since, stream=STDERR, follow=True)
    scripted.answer(
        "StreamLogs",
        Fail(UNAVAILABLE),  # nothing yielded yet: asked again as it was, tail included
        Stream((LOG_HEARTBEAT, lines(4, 5)), Fail(EXHAUSTED)),
        Stream((LOG_HEARTBEAT, lines(5, 6), lines(), lines(4, 7)), Fail(UNAVAILABLE)),
        Stream((lines(8),)),
    )
    entries = await collect(
        kind,
        scripted.address,
        policy([]),
        "follow_logs",
        "e1",
        tail=2,
        since=SINCE,
        stream="stderr",
    )
    assert [e.seq for e in entries] == [4, 5, 6, 7, 8]
    assert all(isinstance(e, epb.LogEntry) for e in entries)
    resumed = [
        pb.StreamLogsRequest(
            execution_id="e1", after_seq=seq, since=since, stream=STDERR, follow=True
        )
        for seq in (5, 7)
    ]
    assert scripted.requests["StreamLogs"] == [first, first, *resumed]


async def test_follow_logs_without_follow_resumes_without_follow(
    kind: str, scripted: ScriptedStreams
) -> None:
    scripted.answer(
        "StreamLogs",
        Stream((lines(3, 4),), Fail(UNAVAILABLE)),
        Stream((lines(3, 4, 5),)),
    )
    entries = await collect(
        kind, scripted.address, policy([]), "follow_logs", "e1", after_seq=2, follow=False
    )
    assert [e.seq for e in entries] == [3, 4, 5]
    assert scripted.requests["StreamLogs"] == [
        pb.StreamLogsRequest(execution_id="e1", after_seq=2),
        pb.StreamLogsRequest(execution_id="e1", after_seq=4),
    ]


async def test_follow_logs_drops_lines_at_or_before_after_seq(
    kind: str, scripted: ScriptedStreams
) -> None:
    scripted.answer("StreamLogs", Stream((lines(2, 3, 4),)))
    entries = await collect(kind, scripted.address, policy([]), "follow_logs", "e1", after_seq=3)
    assert [e.seq for e in entries] == [4]


def deployment_lines(token: str, execution_id: str, *seqs: int) -> pb.StreamLogsResponse:
    entries = [epb.LogEntry(seq=s, execution_id=execution_id, message=f"m{s}") for s in seqs]
    return pb.StreamLogsResponse(entries=entries, resume_token=token)


async def test_a_deployment_log_follow_resumes_from_the_last_token(
    kind: str, scripted: ScriptedStreams
) -> None:
    scripted.answer(
        "StreamLogs",
        Fail(UNAVAILABLE),  # nothing received yet: asked again as it was
        Stream((deployment_lines("t1", "a", 1, 2), LOG_HEARTBEAT), Fail(UNAVAILABLE)),
        Stream((deployment_lines("t2", "b", 1), deployment_lines("t3", "a", 3)), Fail(EXHAUSTED)),
        Stream((deployment_lines("t4", "b", 2),)),
    )
    entries = await collect(
        kind,
        scripted.address,
        policy([]),
        "follow_logs",
        deployment_name="nightly",
        tail=5,
        pattern="m",
    )
    assert [(e.execution_id, e.seq) for e in entries] == [
        ("a", 1), ("a", 2), ("b", 1), ("a", 3), ("b", 2)
    ]  # fmt: skip
    assert scripted.requests["StreamLogs"] == [
        pb.StreamLogsRequest(
            deployment_name="nightly", tail=5, pattern="m", follow=True, resume_token=token
        )
        for token in ["", "", "t1", "t3"]
    ]
