"""Times a platform reports (UpdateJobStatus times): what every read shows, and what is refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from tests.conftest import ServerFactory
from tests.support.factories import act, create_execution, start, stop, unique, violations
from tests.support.server import ServerThread
from tracking.client import InvalidArgument, TrackingClient
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import status_pb2 as spb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

BASE = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def at(seconds: float) -> Timestamp:
    """BASE + seconds, as a Timestamp."""
    stamp = Timestamp()
    stamp.FromDatetime(BASE + dt.timedelta(seconds=seconds))
    return stamp


def seconds(value: float) -> Duration:
    duration = Duration()
    duration.FromTimedelta(dt.timedelta(seconds=value))
    return duration


def times(stub: TrackingServiceStub, execution_id: str, **fields: object) -> spb.JobStatus:
    return act(stub, execution_id, times=pb.TimesAction(**fields))  # type: ignore[arg-type]


def status(stub: TrackingServiceStub, execution_id: str) -> spb.JobStatus:
    return stub.GetJobStatus(pb.GetJobStatusRequest(execution_id=execution_id)).job_status


def events_after(
    stub: TrackingServiceStub, execution_id: str, revision: int
) -> list[epb.ExecutionEvent]:
    """The events after `revision` of an ended execution (its stream then ends by itself)."""
    request = pb.WatchStatusRequest(execution_id=execution_id, after_revision=revision)
    return [r.event for r in stub.WatchStatus(request, timeout=30) if r.HasField("event")]


def ended(stub: TrackingServiceStub, pipeline_name: str = "") -> str:
    execution_id = create_execution(stub, pipeline_name=pipeline_name).execution_id
    start(stub, execution_id)
    stop(stub, execution_id)
    return execution_id


def test_times_of_an_ended_job_show_everywhere(stub: TrackingServiceStub) -> None:
    pipeline = unique("pipe")
    execution_id = ended(stub, pipeline)
    before = status(stub, execution_id)
    reported = times(stub, execution_id, create_time=at(0), start_time=at(10), duration=seconds(37))
    assert reported.create_time == at(0)
    assert reported.start_time == at(10)
    assert reported.duration == seconds(37)
    assert reported.end_time == at(47)  # start_time + duration
    assert (reported.status, reported.revision) == (spb.RUNNING_STATUS_SUCCESS, before.revision + 1)
    assert status(stub, execution_id) == reported
    execution = stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id)).execution
    assert execution.job_status == reported
    (event,) = events_after(stub, execution_id, before.revision)
    assert list(event.changes) == [epb.CHANGE_KIND_TIMES]
    assert event.job_status == reported
    # Lists show the reported time, but keep ordering, paging and filtering by the time the
    # server recorded: a cursor never sees an execution move.
    query = f'pipeline_name = "{pipeline}" AND create_time = "{BASE.isoformat()}"'
    assert stub.ListExecutions(pb.ListExecutionsRequest(filter=query)).executions == []
    recorded = before.create_time.ToDatetime(dt.UTC).isoformat()
    query = f'pipeline_name = "{pipeline}" AND create_time >= "{recorded}"'
    (listed,) = stub.ListExecutions(pb.ListExecutionsRequest(filter=query)).executions
    assert listed.job_status == reported


def test_a_reported_duration_is_shown_while_running_and_after_the_end(
    stub: TrackingServiceStub,
) -> None:
    execution_id = create_execution(stub).execution_id
    started = start(stub, execution_id)
    running = times(stub, execution_id, duration=seconds(5.25))
    assert running.duration == seconds(5.25)
    assert not running.HasField("end_time")
    assert running.start_time == started.start_time
    done = stop(stub, execution_id)
    assert done.duration == seconds(5.25)
    assert done.end_time.ToDatetime() - done.start_time.ToDatetime() == dt.timedelta(seconds=5.25)


def test_times_reported_before_the_start_are_kept(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    waiting = times(stub, execution_id, create_time=at(0), start_time=at(3))
    assert (waiting.status, waiting.create_time, waiting.start_time) == (
        spb.RUNNING_STATUS_WAITING,
        at(0),
        at(3),
    )
    assert start(stub, execution_id).start_time == at(3)


def test_each_time_is_set_only_when_present(stub: TrackingServiceStub) -> None:
    execution_id = ended(stub)
    before = times(stub, execution_id, create_time=at(0))
    assert before.start_time == status(stub, execution_id).start_time
    moved = times(stub, execution_id, start_time=at(20))
    assert moved.create_time == at(0)
    assert moved.start_time == at(20)
    assert moved.end_time == before.end_time  # no duration was reported: the end stays
    assert moved.duration.ToTimedelta() == moved.end_time.ToDatetime() - at(20).ToDatetime()
    assert moved.revision == before.revision + 1
    unchanged = times(stub, execution_id)
    assert unchanged == status(stub, execution_id)
    assert unchanged.revision == moved.revision  # nothing changed: no revision, no event


def _start_before_stored_create(stub: TrackingServiceStub, execution_id: str) -> pb.TimesAction:
    created = status(stub, execution_id).create_time.ToDatetime(tzinfo=dt.UTC)
    earlier = Timestamp()
    earlier.FromDatetime(created - dt.timedelta(seconds=1))
    return pb.TimesAction(start_time=earlier)


def _create_after_stored_start(stub: TrackingServiceStub, execution_id: str) -> pb.TimesAction:
    started = status(stub, execution_id).start_time.ToDatetime(tzinfo=dt.UTC)
    later = Timestamp()
    later.FromDatetime(started + dt.timedelta(seconds=1))
    return pb.TimesAction(create_time=later)


def _ahead(seconds: float) -> Timestamp:
    """Now + seconds by this machine's clock (the server's)."""
    stamp = Timestamp()
    stamp.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds))
    return stamp


def _start_minutes_ahead(_stub: TrackingServiceStub, _execution_id: str) -> pb.TimesAction:
    return pb.TimesAction(start_time=_ahead(600), duration=seconds(1))


def _end_in_a_far_year(_stub: TrackingServiceStub, _execution_id: str) -> pb.TimesAction:
    far = seconds(3_000 * 365 * 86_400)
    return pb.TimesAction(create_time=at(0), start_time=at(1), duration=far)


def _end_minutes_ahead(_stub: TrackingServiceStub, _execution_id: str) -> pb.TimesAction:
    return pb.TimesAction(start_time=_ahead(0), duration=seconds(600))


def _fixed(action: pb.TimesAction) -> Callable[[TrackingServiceStub, str], pb.TimesAction]:
    return lambda _stub, _execution_id: action


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (_fixed(pb.TimesAction(create_time=at(10), start_time=at(9))), "times.start_time"),
        (_start_before_stored_create, "times.start_time"),
        (_create_after_stored_start, "times.create_time"),
        (_fixed(pb.TimesAction(duration=seconds(-1))), "times.duration"),
        (_fixed(pb.TimesAction(duration=Duration(seconds=1, nanos=-1))), "times.duration"),
        (_fixed(pb.TimesAction(duration=Duration(seconds=315_576_000_001))), "times.duration"),
        (
            _fixed(pb.TimesAction(create_time=Timestamp(seconds=253_402_300_800))),
            "times.create_time",
        ),
        (_fixed(pb.TimesAction(start_time=Timestamp(seconds=1, nanos=-1))), "times.start_time"),
        (
            _fixed(
                pb.TimesAction(start_time=Timestamp(seconds=253_402_300_799), duration=seconds(2))
            ),
            "times.duration",
        ),
        (_start_minutes_ahead, "times.start_time"),
        (_end_in_a_far_year, "times.duration"),
        (_end_minutes_ahead, "times.duration"),
    ],
)
def test_bad_times_are_invalid_and_change_nothing(
    stub: TrackingServiceStub,
    build: Callable[[TrackingServiceStub, str], pb.TimesAction],
    field: str,
) -> None:
    execution_id = ended(stub)
    before = status(stub, execution_id)
    with pytest.raises(grpc.RpcError) as caught:
        act(stub, execution_id, times=build(stub, execution_id))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(caught.value), violations(caught.value)
    assert status(stub, execution_id) == before
    assert events_after(stub, execution_id, before.revision) == []


def test_times_a_little_ahead_of_the_clock_keep_their_order(stub: TrackingServiceStub) -> None:
    """Within the clock skew allowed, a start and a stop by the server's clock never come
    before the reported creation and start they follow."""
    execution_id = create_execution(stub).execution_id
    created = times(stub, execution_id, create_time=_ahead(40)).create_time
    started = start(stub, execution_id)
    assert started.start_time.ToDatetime() >= created.ToDatetime()
    reported = times(stub, execution_id, start_time=_ahead(50)).start_time
    ended_job = stop(stub, execution_id)
    assert ended_job.end_time.ToDatetime() >= reported.ToDatetime()
    assert ended_job.duration.ToTimedelta() >= dt.timedelta(0)


def test_times_of_a_missing_execution_is_not_found(stub: TrackingServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        times(stub, "no-such-execution", duration=seconds(1))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_client_sets_times_and_names_a_bad_one(server: ServerThread) -> None:
    with TrackingClient(server.address) as client:
        execution_id = client.create_execution().execution_id
        client.start(execution_id)
        reported = client.set_times(
            execution_id, create_time=BASE, start_time=BASE + dt.timedelta(seconds=2)
        )
        assert reported.create_time == at(0)
        assert reported.start_time == at(2)
        with pytest.raises(InvalidArgument) as caught:
            client.set_times(execution_id, duration=dt.timedelta(seconds=-3))
        assert [v.field for v in caught.value.field_violations] == ["times.duration"]
        assert client.get_job_status(execution_id).revision == reported.revision


def test_times_are_a_report_that_renews_the_lease(make_server: ServerFactory) -> None:
    server = make_server(heartbeat_timeout_seconds=30, lease_sweep_seconds=3600)
    assert server.app is not None
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        job = start(stub, execution_id)
        ran_out = job.lease_expire_time.ToDatetime(dt.UTC) + dt.timedelta(seconds=1)
        assert server.run(server.app.leases.sweep(ran_out)) == 1
        assert status(stub, execution_id).status == spb.RUNNING_STATUS_UNKNOWN
        back = times(stub, execution_id, duration=seconds(4))
        assert (back.status, back.stop_message, back.duration) == (
            spb.RUNNING_STATUS_RUNNING,
            "",
            seconds(4),
        )
        assert back.lease_expire_time.ToDatetime() > job.lease_expire_time.ToDatetime()


def test_retention_keeps_a_job_whose_old_times_were_just_reported(
    make_server: ServerFactory,
) -> None:
    server = make_server(retention_seconds=3600)
    assert server.app is not None
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        start(stub, execution_id)
        entries = [epb.LogEntry(message="fit")]
        stub.AppendLogs(pb.AppendLogsRequest(execution_id=execution_id, entries=entries))
        stop(stub, execution_id)
        old = times(stub, execution_id, create_time=at(0), start_time=at(1), duration=seconds(2))
        assert old.end_time == at(3)  # months before now, and so before the retention cutoff

        kept = server.run(server.app.retention.sweep())
        assert kept.executions == 0
        logs = stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=execution_id))
        assert [entry.message for entry in logs.entries] == ["fit"]
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        assert server.run(server.app.retention.sweep(now=later)).executions == 1


def test_a_reported_creation_time_does_not_move_an_execution_within_a_list(
    stub: TrackingServiceStub,
) -> None:
    pipeline = unique("pipe")
    names = [create_execution(stub, pipeline_name=pipeline).execution_id for _ in range(6)]
    query = f'pipeline_name = "{pipeline}"'
    first = stub.ListExecutions(pb.ListExecutionsRequest(filter=query, page_size=3))
    seen = [e.execution_id for e in first.executions]
    unseen = next(n for n in names if n not in seen)
    soon = Timestamp()
    soon.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))
    times(stub, unseen, create_time=soon)  # newer than every listed one: would sort first
    rest = stub.ListExecutions(
        pb.ListExecutionsRequest(filter=query, page_size=3, page_token=first.next_page_token)
    )
    seen += [e.execution_id for e in rest.executions]
    assert sorted(seen) == sorted(names)
