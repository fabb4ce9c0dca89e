"""WatchStatus and StreamLogs: snapshot, live changes, resume, end of stream, bad input."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from tests.support.factories import (
    act,
    create_deployment,
    create_execution,
    start,
    stop,
    unique,
    violations,
)
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import status_pb2 as spb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def events(stream: Iterator[pb.WatchStatusResponse]) -> Iterator[epb.ExecutionEvent]:
    for response in stream:
        if response.HasField("event"):
            yield response.event


def lines(stream: Iterator[pb.StreamLogsResponse]) -> list[str]:
    return [entry.message for response in stream for entry in response.entries]


def test_watch_one_execution_from_snapshot_to_end(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    stream = events(stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=30))
    snapshot = next(stream)
    assert snapshot.snapshot
    assert snapshot.revision == 1
    assert snapshot.job_status.status == spb.RUNNING_STATUS_WAITING
    start(stub, execution_id)
    for step in range(1, 6):
        act(stub, execution_id, progress=pb.ProgressAction(progress=step / 10))
    stop(stub, execution_id)
    rest = list(stream)  # the stream ends by itself after the terminal event
    assert [e.revision for e in rest] == list(range(2, 9))
    assert rest[0].job_status.status == spb.RUNNING_STATUS_RUNNING
    assert list(rest[0].changes) == [epb.CHANGE_KIND_STATUS]
    assert list(rest[1].changes) == [epb.CHANGE_KIND_PROGRESS]
    assert rest[-1].job_status.status == spb.RUNNING_STATUS_SUCCESS
    assert not any(e.snapshot for e in rest)


def test_resume_after_revision_gets_exactly_the_rest(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    for step in range(1, 4):
        act(stub, execution_id, progress=pb.ProgressAction(progress=step / 10))
    stop(stub, execution_id, spb.RUNNING_STATUS_ERROR, "boom")
    resumed = list(
        events(
            stub.WatchStatus(
                pb.WatchStatusRequest(execution_id=execution_id, after_revision=3), timeout=30
            )
        )
    )
    assert [e.revision for e in resumed] == [4, 5, 6]
    assert resumed[-1].job_status.stop_message == "boom"
    finished = list(
        events(stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=30))
    )
    assert [(e.snapshot, e.revision) for e in finished] == [(True, 6)]


def test_watch_ends_on_deletion(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    stream = events(stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=30))
    assert next(stream).snapshot
    stub.DeleteExecution(pb.DeleteExecutionRequest(execution_id=execution_id))
    rest = list(stream)
    assert [list(e.changes) for e in rest] == [[epb.CHANGE_KIND_DELETED]]


def test_watch_a_deployment_and_resume_with_its_token(stub: TrackingServiceStub) -> None:
    deployment = create_deployment(stub)
    first = create_execution(stub, deployment_name=deployment.name).execution_id
    call = stub.WatchStatus(pb.WatchStatusRequest(deployment_name=deployment.name), timeout=30)
    stream = events(call)
    snapshot = next(stream)
    assert (snapshot.snapshot, snapshot.execution_id) == (True, first)
    second = create_execution(stub, deployment_name=deployment.name).execution_id
    start(stub, first)
    created = next(stream)
    assert (created.execution_id, list(created.changes)) == (second, [epb.CHANGE_KIND_CREATED])
    started = next(stream)
    assert (started.execution_id, started.job_status.status) == (first, spb.RUNNING_STATUS_RUNNING)
    call.cancel()
    stop(stub, first)
    stub.CancelExecution(pb.CancelExecutionRequest(execution_id=second))
    resumed = stub.WatchStatus(
        pb.WatchStatusRequest(deployment_name=deployment.name, resume_token=created.resume_token),
        timeout=30,
    )
    got = []
    for event in events(resumed):
        got.append((event.execution_id, event.revision))
        if len(got) == 3:
            resumed.cancel()
            break
    assert got == [(first, 2), (first, 3), (second, 2)]


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"execution_id": "x-1", "deployment_name": "d"}, "deployment_name"),
        ({"execution_id": "bad id"}, "execution_id"),
        ({"execution_id": "x-1", "after_revision": -1}, "after_revision"),
        ({"resume_token": "tampered"}, "resume_token"),
        ({"deployment_name": "Bad Name"}, "deployment_name"),
        ({"after_revision": 3}, "after_revision"),
    ],
)
def test_bad_watch_is_invalid_argument(
    stub: TrackingServiceStub, request_fields: dict[str, object], field: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        next(iter(stub.WatchStatus(pb.WatchStatusRequest(**request_fields), timeout=30)))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(caught.value)


def test_watch_future_revision_or_missing_execution(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    with pytest.raises(grpc.RpcError) as caught:
        next(
            iter(
                stub.WatchStatus(
                    pb.WatchStatusRequest(execution_id=execution_id, after_revision=5), timeout=30
                )
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ahead" in violations(caught.value)["after_revision"]
    with pytest.raises(grpc.RpcError) as caught:
        next(iter(stub.WatchStatus(pb.WatchStatusRequest(execution_id=unique("gone")), timeout=30)))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        next(
            iter(
                stub.WatchStatus(pb.WatchStatusRequest(deployment_name=unique("gone")), timeout=30)
            )
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_idle_watch_gets_heartbeats(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    call = stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=30)
    first, second = next(call), next(call)
    call.cancel()
    assert first.HasField("event")
    assert second.HasField("heartbeat")
    assert second.heartbeat.time.seconds > 0


def test_stream_logs_replays_then_follows_until_the_end(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    stub.AppendLogs(
        pb.AppendLogsRequest(
            execution_id=execution_id, entries=[epb.LogEntry(message=f"old {i}") for i in range(3)]
        )
    )
    call = stub.StreamLogs(pb.StreamLogsRequest(execution_id=execution_id, follow=True), timeout=30)
    replay = next(call)
    assert [e.seq for e in replay.entries] == [1, 2, 3]
    for batch in range(3):
        stub.AppendLogs(
            pb.AppendLogsRequest(
                execution_id=execution_id,
                entries=[epb.LogEntry(message=f"new {batch}.{i}") for i in range(2)],
            )
        )
    stop(stub, execution_id)
    rest = lines(call)
    assert rest == [f"new {b}.{i}" for b in range(3) for i in range(2)]


def test_stream_logs_tail_after_seq_and_stream_filter(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    stub.AppendLogs(
        pb.AppendLogsRequest(
            execution_id=execution_id,
            entries=[
                epb.LogEntry(
                    message=f"l{i}",
                    stream=epb.LOG_STREAM_STDERR if i % 3 == 0 else epb.LOG_STREAM_STDOUT,
                )
                for i in range(10)
            ],
        )
    )

    def read(**fields: object) -> list[str]:
        return lines(
            stub.StreamLogs(pb.StreamLogsRequest(execution_id=execution_id, **fields), timeout=30)
        )

    assert read() == [f"l{i}" for i in range(10)]
    assert read(tail=3) == ["l7", "l8", "l9"]
    assert read(after_seq=8) == ["l8", "l9"]
    assert read(stream=epb.LOG_STREAM_STDERR) == ["l0", "l3", "l6", "l9"]
    assert read(stream=epb.LOG_STREAM_STDERR, tail=2) == ["l6", "l9"]


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"tail": -1}, "tail"),
        ({"tail": 10_000_000}, "tail"),
        ({"after_seq": -2}, "after_seq"),
        ({"after_seq": 50}, "after_seq"),
        ({"stream": 5}, "stream"),
    ],
)
def test_bad_stream_logs_is_invalid_argument(
    stub: TrackingServiceStub, request_fields: dict[str, object], field: str
) -> None:
    execution_id = create_execution(stub).execution_id
    with pytest.raises(grpc.RpcError) as caught:
        lines(
            stub.StreamLogs(
                pb.StreamLogsRequest(execution_id=execution_id, **request_fields), timeout=30
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(caught.value)


def test_a_deployment_watch_cut_off_among_its_snapshots_gets_the_rest(
    stub: TrackingServiceStub,
) -> None:
    deployment = create_deployment(stub)
    ids = [create_execution(stub, deployment_name=deployment.name).execution_id for _ in range(3)]
    call = stub.WatchStatus(pb.WatchStatusRequest(deployment_name=deployment.name), timeout=30)
    first = next(events(call))
    call.cancel()
    assert (first.snapshot, first.execution_id) == (True, ids[0])
    start(stub, ids[0])
    resumed = stub.WatchStatus(
        pb.WatchStatusRequest(deployment_name=deployment.name, resume_token=first.resume_token),
        timeout=30,
    )
    got = []
    for event in events(resumed):
        got.append((event.snapshot, event.execution_id, event.revision))
        if len(got) == 3:
            resumed.cancel()
            break
    assert got == [(True, ids[1], 1), (True, ids[2], 1), (False, ids[0], 2)]


def test_resuming_after_the_deletion_ends_quietly(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    stub.DeleteExecution(pb.DeleteExecutionRequest(execution_id=execution_id))
    rest = list(
        stub.WatchStatus(
            pb.WatchStatusRequest(execution_id=execution_id, after_revision=2), timeout=30
        )
    )
    assert rest == []
    replay = list(
        events(
            stub.WatchStatus(
                pb.WatchStatusRequest(execution_id=execution_id, after_revision=1), timeout=30
            )
        )
    )
    assert [list(e.changes) for e in replay] == [[epb.CHANGE_KIND_DELETED]]
