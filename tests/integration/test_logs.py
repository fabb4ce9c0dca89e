"""AppendLogs and GetExecutionLogs: numbering, filters, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.support.factories import create_execution, start, stop, violations
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def stamp(moment: datetime) -> Timestamp:
    timestamp = Timestamp()
    timestamp.FromDatetime(moment)
    return timestamp


def append(stub: TrackingServiceStub, execution_id: str, *entries: epb.LogEntry) -> int:
    return stub.AppendLogs(
        pb.AppendLogsRequest(execution_id=execution_id, entries=entries)
    ).last_seq


def test_lines_are_numbered_in_order_across_batches(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    assert append(stub, execution_id, *[epb.LogEntry(message=f"line {i}") for i in range(3)]) == 3
    assert (
        append(
            stub, execution_id, epb.LogEntry(message="err", stream=epb.LOG_STREAM_STDERR, seq=99)
        )
        == 4
    )
    lines = stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=execution_id)).entries
    assert [(e.seq, e.message) for e in lines] == [
        (1, "line 0"),
        (2, "line 1"),
        (3, "line 2"),
        (4, "err"),
    ]
    assert lines[0].stream == epb.LOG_STREAM_STDOUT
    assert lines[3].stream == epb.LOG_STREAM_STDERR
    assert all(e.timestamp.seconds > 0 for e in lines)


def test_time_range_limit_stream_and_after_seq(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    base = datetime(2026, 1, 1, tzinfo=UTC)
    append(
        stub,
        execution_id,
        *[
            epb.LogEntry(
                message=f"m{i}",
                timestamp=stamp(base + timedelta(minutes=i)),
                stream=epb.LOG_STREAM_STDERR if i % 2 else epb.LOG_STREAM_STDOUT,
                step_name="train",
            )
            for i in range(10)
        ],
    )

    def messages(**query: object) -> list[str]:
        request = pb.GetExecutionLogsRequest(execution_id=execution_id, **query)
        return [e.message for e in stub.GetExecutionLogs(request).entries]

    assert messages(
        from_time=stamp(base + timedelta(minutes=3)), to_time=stamp(base + timedelta(minutes=6))
    ) == ["m3", "m4", "m5"]
    assert messages(limit=2) == ["m0", "m1"]
    assert messages(stream=epb.LOG_STREAM_STDERR, limit=2) == ["m1", "m3"]
    assert messages(after_seq=8) == ["m8", "m9"]
    assert (
        stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=execution_id))
        .entries[0]
        .step_name
        == "train"
    )


def test_bad_log_requests(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    cases = [
        (pb.AppendLogsRequest(execution_id=execution_id), "entries"),
        (
            pb.AppendLogsRequest(
                execution_id=execution_id, entries=[epb.LogEntry(message="x" * 70000)]
            ),
            "entries[0].message",
        ),
        (
            pb.AppendLogsRequest(execution_id=execution_id, entries=[epb.LogEntry(stream=7)]),
            "entries[0].stream",
        ),
        (pb.AppendLogsRequest(execution_id="bad id"), "execution_id"),
    ]
    for request, field in cases:
        with pytest.raises(grpc.RpcError) as caught:
            stub.AppendLogs(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in violations(caught.value)
    now = datetime.now(UTC)
    reads = [
        (pb.GetExecutionLogsRequest(execution_id=execution_id, limit=-1), "limit"),
        (pb.GetExecutionLogsRequest(execution_id=execution_id, after_seq=-5), "after_seq"),
        (
            pb.GetExecutionLogsRequest(
                execution_id=execution_id, from_time=stamp(now), to_time=stamp(now - timedelta(1))
            ),
            "to_time",
        ),
    ]
    for read, field in reads:
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetExecutionLogs(read)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in violations(caught.value)
    assert (
        list(stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=execution_id)).entries)
        == []
    )


def test_no_lines_after_the_end(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    append(stub, execution_id, epb.LogEntry(message="last words"))
    stop(stub, execution_id)
    with pytest.raises(grpc.RpcError) as caught:
        append(stub, execution_id, epb.LogEntry(message="too late"))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    lines = stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=execution_id)).entries
    assert [e.message for e in lines] == ["last words"]


def test_logs_of_missing_execution_are_not_found(stub: TrackingServiceStub) -> None:
    for call in (
        lambda: append(stub, "missing-exec", epb.LogEntry(message="x")),
        lambda: stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id="missing-exec")),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
