"""AppendLogs and GetExecutionLogs: numbering, filters, limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.conftest import ServerFactory
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


@pytest.mark.parametrize("size", [1, 3, 257, 500])
def test_every_field_of_every_line_is_stored_whatever_the_batch_size(
    stub: TrackingServiceStub, size: int
) -> None:
    """A batch is stored in statements of several rows each (on SQLite): each line keeps its
    own seq, stream, message, step and time, or the append's time when it sends none."""
    execution_id = create_execution(stub).execution_id
    base = datetime(2026, 1, 1, tzinfo=UTC)
    assert append(stub, execution_id, epb.LogEntry(message="first")) == 1

    def entry(i: int) -> epb.LogEntry:
        line = epb.LogEntry(
            message=f"line {i} {'é' * (i % 3)}",
            stream=epb.LOG_STREAM_STDERR if i % 2 else epb.LOG_STREAM_STDOUT,
            step_name=f"step {i % 5}" if i % 4 else "",
        )
        if i % 3 == 1:
            line.timestamp.CopyFrom(stamp(base + timedelta(seconds=i)))
        return line

    sent = [entry(i) for i in range(size)]
    for batch in (sent, [line for line in sent if not line.HasField("timestamp")] or sent):
        before = datetime.now(UTC) - timedelta(seconds=1)
        last = append(stub, execution_id, *batch)
        stored = stub.GetExecutionLogs(
            pb.GetExecutionLogsRequest(
                execution_id=execution_id, after_seq=last - len(batch), limit=len(batch)
            )
        ).entries
        assert [e.seq for e in stored] == list(range(last - len(batch) + 1, last + 1))
        for line, kept in zip(batch, stored, strict=True):
            assert (kept.message, kept.stream, kept.step_name) == (
                line.message,
                line.stream,
                line.step_name,
            )
            if line.HasField("timestamp"):
                assert kept.timestamp == line.timestamp
            else:
                assert kept.timestamp.ToDatetime(UTC) >= before


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


def messages_of(stub: TrackingServiceStub, execution_id: str, **query: object) -> list[str]:
    request = pb.GetExecutionLogsRequest(execution_id=execution_id, **query)
    return [e.message for e in stub.GetExecutionLogs(request).entries]


def test_contains_and_pattern_keep_the_matching_lines(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    texts = ["epoch 1 loss=0.9", "Epoch 2 loss=0.5", "warning: slow disk", "epoch 3 loss=0.2"]
    append(stub, execution_id, *[epb.LogEntry(message=text) for text in texts])
    assert messages_of(stub, execution_id, contains="epoch") == [texts[0], texts[3]]
    assert messages_of(stub, execution_id, pattern=r"loss=0\.[0-5]$") == [texts[1], texts[3]]
    assert messages_of(stub, execution_id, pattern=r"(?i)^epoch", contains="0.5") == [texts[1]]
    assert messages_of(stub, execution_id, contains="50%_") == []


def test_a_filter_reads_on_until_the_limit_is_filled(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    for first in range(0, 3000, 1000):
        append(
            stub,
            execution_id,
            *[epb.LogEntry(message=f"line {i}") for i in range(first, first + 1000)],
        )
    every_hundredth = r"^line (0|\d+00)$"
    assert messages_of(stub, execution_id, pattern=every_hundredth) == [
        f"line {i}" for i in range(0, 3000, 100)
    ]
    assert messages_of(stub, execution_id, pattern=every_hundredth, limit=3, after_seq=1000) == [
        "line 1000",
        "line 1100",
        "line 1200",
    ]
    response = stub.GetExecutionLogs(
        pb.GetExecutionLogsRequest(execution_id=execution_id, contains="line 29", limit=5)
    )
    assert [e.seq for e in response.entries] == [30, 291, 292, 293, 294]
    assert not response.truncated  # the limit was reached, nothing was cut short


def test_a_pathological_pattern_is_matched_in_linear_time(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    append(stub, execution_id, epb.LogEntry(message="a" * 60000 + "!"), epb.LogEntry(message="aa"))
    # Exponential for a backtracking engine on the first line; RE2 answers at once.
    assert messages_of(stub, execution_id, pattern="^(a+)+$") == ["aa"]


def test_bad_patterns_are_invalid_arguments_naming_the_field(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    for pattern in ["(unclosed", r"(a)\1", "x" * 1025]:
        read = pb.GetExecutionLogsRequest(execution_id=execution_id, pattern=pattern)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetExecutionLogs(read)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(caught.value)) == {"pattern"}
        follow = pb.StreamLogsRequest(execution_id=execution_id, pattern=pattern)
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.StreamLogs(follow, timeout=30))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(caught.value)) == {"pattern"}
    assert messages_of(stub, execution_id, pattern="x" * 1024) == []


def test_truncated_when_the_size_cap_cuts_the_response(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    append(stub, execution_id, *[epb.LogEntry(message=f"{i:03d}" + "x" * 60000) for i in range(50)])
    first = stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=execution_id))
    assert 0 < len(first.entries) < 50
    assert first.truncated
    rest = stub.GetExecutionLogs(
        pb.GetExecutionLogsRequest(execution_id=execution_id, after_seq=first.entries[-1].seq)
    )
    assert not rest.truncated
    assert [e.seq for e in [*first.entries, *rest.entries]] == list(range(1, 51))
    small = stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=execution_id, limit=10))
    assert (len(small.entries), small.truncated) == (10, False)


def test_truncated_when_the_servers_line_limit_cuts_the_response(
    make_server: ServerFactory,
) -> None:
    server = make_server(max_log_read=5)
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        append(stub, execution_id, *[epb.LogEntry(message=f"m{i}") for i in range(12)])

        def read(**query: object) -> tuple[list[int], bool]:
            response = stub.GetExecutionLogs(
                pb.GetExecutionLogsRequest(execution_id=execution_id, **query)
            )
            return [e.seq for e in response.entries], response.truncated

        assert read() == ([1, 2, 3, 4, 5], True)
        assert read(limit=100) == ([1, 2, 3, 4, 5], True)
        assert read(limit=5) == ([1, 2, 3, 4, 5], False)
        assert read(after_seq=5, pattern="[02468]$") == ([7, 9, 11], False)
        assert read(after_seq=10) == ([11, 12], False)
        assert read(contains="1") == ([2, 11, 12], False)


def test_stream_logs_filters_and_tails_the_matching_lines(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    texts = [f"{i} {'ERROR' if i % 3 else 'ok'}" for i in range(1200)]
    append(stub, execution_id, *[epb.LogEntry(message=text) for text in texts])
    stop(stub, execution_id)

    def streamed(**query: object) -> list[str]:
        request = pb.StreamLogsRequest(execution_id=execution_id, follow=True, **query)
        return [e.message for r in stub.StreamLogs(request, timeout=30) for e in r.entries]

    assert streamed(contains="ok", tail=2) == ["1194 ok", "1197 ok"]
    assert streamed(pattern=r"^1[01]\d0 ERROR$") == [
        t for t in texts if re.fullmatch(r"1[01]\d0 ERROR", t)
    ]
    # The tail counts matching lines, far back past lines that do not match.
    assert streamed(pattern="^1.5 ", tail=5) == [t for t in texts if re.match("1.5 ", t)][-5:]
    assert streamed(pattern="^1.5 ", tail=600) == [t for t in texts if re.match("1.5 ", t)]


def test_a_filtered_read_examines_a_bounded_number_of_lines_and_says_where_to_go_on(
    stub: TrackingServiceStub,
) -> None:
    execution_id = create_execution(stub).execution_id
    for first in range(0, 120_000, 5000):
        entries = [
            epb.LogEntry(message="needle" if seq == 110_000 else f"hay {seq}")
            for seq in range(first + 1, first + 5001)
        ]
        stub.AppendLogs(pb.AppendLogsRequest(execution_id=execution_id, entries=entries))
    request = pb.GetExecutionLogsRequest(execution_id=execution_id, contains="needle")
    first_read = stub.GetExecutionLogs(request)
    assert list(first_read.entries) == []
    assert first_read.truncated
    assert first_read.scanned_to_seq == 100_000
    request.after_seq = first_read.scanned_to_seq
    second_read = stub.GetExecutionLogs(request)
    assert [(e.seq, e.message) for e in second_read.entries] == [(110_000, "needle")]
    assert not second_read.truncated
    assert second_read.scanned_to_seq == 0
