"""Leases: a running execution whose worker goes silent becomes UNKNOWN, and comes back.

Sweeps are run by the tests themselves with a chosen `now` (the servers' own sweeps are
set an hour apart), so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from tests.conftest import ServerFactory
from tests.support.databases import postgres_database
from tests.support.factories import act, create_execution, unique, violations
from tests.support.server import ServerThread
from tests.support.waiting import wait_for
from tracking.service.settings import Settings
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import io_pb2, metric_pb2
from tracking.v1 import status_pb2 as spb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

HOUR = 3600.0


def seconds(value: float) -> Duration:
    duration = Duration()
    duration.FromNanoseconds(round(value * 1e9))
    return duration


@pytest.fixture
def leased(make_server: ServerFactory) -> Iterator[tuple[ServerThread, TrackingServiceStub]]:
    """A server whose executions get a 30 s lease by default and never sweep by themselves."""
    server = make_server(heartbeat_timeout_seconds=30, lease_sweep_seconds=HOUR)
    with grpc.insecure_channel(server.address) as channel:
        yield server, TrackingServiceStub(channel)


def status(stub: TrackingServiceStub, execution_id: str) -> spb.JobStatus:
    return stub.GetJobStatus(pb.GetJobStatusRequest(execution_id=execution_id)).job_status


def sweep_after(server: ServerThread, job: spb.JobStatus, margin: float = 1.0) -> int:
    """Sweep as the server would `margin` seconds after the job's lease runs out."""
    assert server.app is not None
    now = job.lease_expire_time.ToDatetime(UTC) + timedelta(seconds=margin)
    return int(server.run(server.app.leases.sweep(now)))


def started(stub: TrackingServiceStub, **execution: object) -> tuple[str, spb.JobStatus]:
    execution_id = create_execution(stub, **execution).execution_id
    return execution_id, act(stub, execution_id, start=pb.StartAction())


def test_an_execution_takes_the_servers_default_lease_or_its_own(
    leased: tuple[ServerThread, TrackingServiceStub],
) -> None:
    _, stub = leased
    default = create_execution(stub)
    assert default.heartbeat_timeout.ToTimedelta() == timedelta(seconds=30)
    own = create_execution(stub, heartbeat_timeout=seconds(5))
    assert own.heartbeat_timeout.ToTimedelta() == timedelta(seconds=5)
    none = create_execution(stub, heartbeat_timeout=seconds(0))
    assert none.heartbeat_timeout.ToTimedelta() == timedelta(0)

    waiting = status(stub, default.execution_id)
    assert not waiting.HasField("last_heartbeat_time")
    assert not waiting.HasField("lease_expire_time")

    running = act(stub, own.execution_id, start=pb.StartAction(heartbeat_timeout=seconds(90)))
    assert running.lease_expire_time.ToDatetime() - running.last_heartbeat_time.ToDatetime() == (
        timedelta(seconds=90)
    )
    execution = stub.GetExecution(pb.GetExecutionRequest(execution_id=own.execution_id))
    assert execution.execution.heartbeat_timeout.ToTimedelta() == timedelta(seconds=90)

    no_lease = act(stub, none.execution_id, start=pb.StartAction())
    assert no_lease.HasField("last_heartbeat_time")
    assert not no_lease.HasField("lease_expire_time")


def test_every_report_of_the_worker_renews_the_lease(
    leased: tuple[ServerThread, TrackingServiceStub],
) -> None:
    _, stub = leased
    execution_id, job = started(stub)
    reports: dict[str, Callable[[], object]] = {
        "heartbeat": lambda: act(stub, execution_id, heartbeat=pb.HeartbeatAction()),
        "progress": lambda: act(stub, execution_id, progress=pb.ProgressAction(progress=0.2)),
        "logs": lambda: stub.AppendLogs(
            pb.AppendLogsRequest(execution_id=execution_id, entries=[epb.LogEntry(message="x")])
        ),
        "step": lambda: stub.UpdateStep(
            pb.UpdateStepRequest(execution_id=execution_id, step=epb.Step(name="fit"))
        ),
        "outputs": lambda: stub.SetExecutionOutputs(
            pb.SetExecutionOutputsRequest(
                execution_id=execution_id, outputs=[io_pb2.ExecutionOutput(name="model")]
            )
        ),
        "metrics": lambda: stub.LogMetrics(
            pb.LogMetricsRequest(
                execution_id=execution_id, points=[metric_pb2.MetricPoint(name="loss", value=1)]
            )
        ),
    }
    for name, report in reports.items():
        before = status(stub, execution_id)
        sent_at = datetime.now(UTC)
        report()
        after = status(stub, execution_id)
        assert after.last_heartbeat_time.ToDatetime(UTC) >= sent_at, name
        assert after.lease_expire_time.ToDatetime(UTC) >= sent_at + timedelta(seconds=30), name
        assert after.lease_expire_time.ToDatetime() > before.lease_expire_time.ToDatetime(), name
    # progress, step and outputs are changes; a heartbeat, log lines and metric points only
    # renew the lease
    assert status(stub, execution_id).revision == job.revision + 3


def test_a_heartbeat_changes_no_revision_and_sends_no_event(
    leased: tuple[ServerThread, TrackingServiceStub],
) -> None:
    _, stub = leased
    execution_id, job = started(stub)
    watch = stub.WatchStatus(
        pb.WatchStatusRequest(execution_id=execution_id, after_revision=job.revision), timeout=30
    )
    beat = act(stub, execution_id, heartbeat=pb.HeartbeatAction())
    assert beat.revision == job.revision
    act(stub, execution_id, stop=pb.StopAction(cause=spb.RUNNING_STATUS_SUCCESS))
    events = [r.event for r in watch if r.HasField("event")]
    assert [e.job_status.status for e in events] == [spb.RUNNING_STATUS_SUCCESS]


def test_a_silent_worker_becomes_unknown_and_its_next_report_brings_it_back(
    leased: tuple[ServerThread, TrackingServiceStub],
) -> None:
    server, stub = leased
    execution_id, job = started(stub)
    watch = stub.WatchStatus(
        pb.WatchStatusRequest(execution_id=execution_id, after_revision=job.revision), timeout=30
    )
    assert sweep_after(server, job, margin=-1.0) == 0  # not yet run out
    assert sweep_after(server, job) == 1
    lapsed = status(stub, execution_id)
    assert lapsed.status == spb.RUNNING_STATUS_UNKNOWN
    heard = job.last_heartbeat_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")
    assert lapsed.stop_message.startswith(f"no report from the worker since {heard} UTC")
    assert "heartbeat timeout 30 s" in lapsed.stop_message
    assert not lapsed.HasField("lease_expire_time")
    assert sweep_after(server, job, margin=60) == 0  # marked once only

    back = act(stub, execution_id, heartbeat=pb.HeartbeatAction())
    assert back.status == spb.RUNNING_STATUS_RUNNING
    assert back.stop_message == ""
    assert back.HasField("lease_expire_time")
    act(stub, execution_id, stop=pb.StopAction(cause=spb.RUNNING_STATUS_SUCCESS))
    events = [r.event for r in watch if r.HasField("event")]
    assert [(e.revision, e.job_status.status) for e in events] == [
        (job.revision + 1, spb.RUNNING_STATUS_UNKNOWN),
        (job.revision + 2, spb.RUNNING_STATUS_RUNNING),
        (job.revision + 3, spb.RUNNING_STATUS_SUCCESS),
    ]
    assert events[0].changes == [epb.CHANGE_KIND_STATUS]


@pytest.mark.parametrize("report", ["progress", "logs", "step", "outputs", "metrics", "start"])
def test_any_report_brings_a_lapsed_execution_back(
    leased: tuple[ServerThread, TrackingServiceStub], report: str
) -> None:
    server, stub = leased
    execution_id, job = started(stub)
    sweep_after(server, job)
    assert status(stub, execution_id).status == spb.RUNNING_STATUS_UNKNOWN
    if report == "progress":
        act(stub, execution_id, progress=pb.ProgressAction(progress=0.5, phase="epoch 2"))
    elif report == "logs":
        entries = [epb.LogEntry(message="still here")]
        stub.AppendLogs(pb.AppendLogsRequest(execution_id=execution_id, entries=entries))
    elif report == "step":
        stub.UpdateStep(pb.UpdateStepRequest(execution_id=execution_id, step=epb.Step(name="a")))
    elif report == "outputs":
        stub.SetExecutionOutputs(pb.SetExecutionOutputsRequest(execution_id=execution_id))
    elif report == "metrics":
        point = metric_pb2.MetricPoint(name="loss", value=0.5)
        stub.LogMetrics(pb.LogMetricsRequest(execution_id=execution_id, points=[point]))
    else:
        act(stub, execution_id, start=pb.StartAction())
    back = status(stub, execution_id)
    assert (back.status, back.stop_message) == (spb.RUNNING_STATUS_RUNNING, "")
    assert back.HasField("lease_expire_time")


def test_a_lapsed_cancel_request_comes_back_as_a_cancel_request(
    leased: tuple[ServerThread, TrackingServiceStub],
) -> None:
    server, stub = leased
    execution_id, _ = started(stub)
    stub.CancelExecution(pb.CancelExecutionRequest(execution_id=execution_id, reason="enough"))
    asked = status(stub, execution_id)
    assert asked.status == spb.RUNNING_STATUS_CANCEL_REQUESTED
    sweep_after(server, asked)
    assert status(stub, execution_id).status == spb.RUNNING_STATUS_UNKNOWN
    back = act(stub, execution_id, heartbeat=pb.HeartbeatAction())
    assert back.status == spb.RUNNING_STATUS_CANCEL_REQUESTED
    assert back.cancel_reason == "enough"


def test_a_suspended_or_ended_execution_holds_no_lease(
    leased: tuple[ServerThread, TrackingServiceStub],
) -> None:
    server, stub = leased
    execution_id, job = started(stub)
    suspended = act(stub, execution_id, suspend=pb.SuspendAction(reason="preempted"))
    assert not suspended.HasField("lease_expire_time")
    assert sweep_after(server, job, margin=HOUR) == 0
    assert status(stub, execution_id).status == spb.RUNNING_STATUS_SUSPENDED
    resumed = act(stub, execution_id, resume=pb.ResumeAction())
    assert resumed.HasField("lease_expire_time")
    ended = act(stub, execution_id, stop=pb.StopAction(cause=spb.RUNNING_STATUS_ERROR))
    assert not ended.HasField("lease_expire_time")
    assert sweep_after(server, resumed, margin=HOUR) == 0


def test_a_worker_that_says_unknown_is_not_brought_back_by_a_heartbeat(
    leased: tuple[ServerThread, TrackingServiceStub],
) -> None:
    _, stub = leased
    execution_id, _ = started(stub)
    act(stub, execution_id, stop=pb.StopAction(cause=spb.RUNNING_STATUS_UNKNOWN, message="lost"))
    with pytest.raises(grpc.RpcError) as refused:
        act(stub, execution_id, heartbeat=pb.HeartbeatAction())
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "UNKNOWN" in str(refused.value.details())


@pytest.mark.parametrize(
    "situation", ["waiting", "success", "canceled", "suspended"], ids=lambda s: s
)
def test_a_heartbeat_for_an_execution_that_is_not_running_is_failed_precondition(
    leased: tuple[ServerThread, TrackingServiceStub], situation: str
) -> None:
    _, stub = leased
    execution_id = create_execution(stub).execution_id
    if situation != "waiting":
        act(stub, execution_id, start=pb.StartAction())
    if situation == "success":
        act(stub, execution_id, stop=pb.StopAction(cause=spb.RUNNING_STATUS_SUCCESS))
    elif situation == "canceled":
        act(stub, execution_id, stop=pb.StopAction(cause=spb.RUNNING_STATUS_CANCELED))
    elif situation == "suspended":
        act(stub, execution_id, suspend=pb.SuspendAction())
    before = status(stub, execution_id)
    with pytest.raises(grpc.RpcError) as refused:
        act(stub, execution_id, heartbeat=pb.HeartbeatAction())
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "cannot report heartbeat in" in str(refused.value.details())
    after = status(stub, execution_id)
    for record in (before, after):
        record.ClearField("duration")  # grows with the clock while not ended
    assert after == before


@pytest.mark.parametrize(
    "value", [-1.0, 0.5, 7 * 24 * 3600 + 1.0, 1e12], ids=["negative", "sub-second", "8d", "huge"]
)
def test_a_heartbeat_timeout_out_of_range_is_invalid_argument_and_writes_nothing(
    leased: tuple[ServerThread, TrackingServiceStub], value: float
) -> None:
    _, stub = leased
    execution_id = unique("lease")
    with pytest.raises(grpc.RpcError) as refused:
        create_execution(stub, execution_id=execution_id, heartbeat_timeout=seconds(value))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "execution.heartbeat_timeout" in violations(refused.value)
    with pytest.raises(grpc.RpcError) as missing:
        stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND

    waiting = create_execution(stub).execution_id
    with pytest.raises(grpc.RpcError) as refused:
        act(stub, waiting, start=pb.StartAction(heartbeat_timeout=seconds(value)))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "start.heartbeat_timeout" in violations(refused.value)
    assert status(stub, waiting).status == spb.RUNNING_STATUS_WAITING


def test_a_lease_that_ran_out_while_no_server_ran_is_marked_when_one_starts(
    make_server: ServerFactory,
) -> None:
    first = make_server(lease_sweep_seconds=HOUR)
    with grpc.insecure_channel(first.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id, job = started(stub, heartbeat_timeout=seconds(1))
    first.stop()
    # Wait for the lease to have run out by the clock, then start a server: its first sweep
    # runs at start, and its next only an hour later.
    ends = job.lease_expire_time.ToDatetime(UTC)
    threading.Event().wait(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.05)
    second = make_server(lease_sweep_seconds=HOUR)
    with grpc.insecure_channel(second.address) as channel:
        stub = TrackingServiceStub(channel)
        wait_for_status(stub, execution_id, spb.RUNNING_STATUS_UNKNOWN)


def wait_for_status(stub: TrackingServiceStub, execution_id: str, wanted: int) -> None:
    wait_for(lambda: status(stub, execution_id).status == wanted, f"status {wanted}")


@pytest.mark.postgres
def test_replicas_sweeping_at_once_mark_each_lapse_exactly_once() -> None:
    with postgres_database() as url:
        settings = Settings(
            address="127.0.0.1:0",
            database_url=url,
            heartbeat_seconds=0.5,
            heartbeat_timeout_seconds=30,
            lease_sweep_seconds=HOUR,
        )
        replicas = [ServerThread(settings).start() for _ in range(3)]
        try:
            with grpc.insecure_channel(replicas[0].address) as channel:
                stub = TrackingServiceStub(channel)
                jobs = dict(started(stub) for _ in range(40))
                latest = max(j.lease_expire_time.ToDatetime() for j in jobs.values())
                now = latest.replace(tzinfo=UTC) + timedelta(seconds=1)
                rounds = 5
                with ThreadPoolExecutor(len(replicas) * rounds) as pool:
                    sweeps = [
                        pool.submit(r.run, r.app.leases.sweep(now))  # type: ignore[union-attr]
                        for _ in range(rounds)
                        for r in replicas
                    ]
                    marked = sum(s.result() for s in sweeps)
                assert marked == len(jobs)
                for execution_id, job in jobs.items():
                    lapsed = status(stub, execution_id)
                    assert lapsed.status == spb.RUNNING_STATUS_UNKNOWN
                    assert lapsed.revision == job.revision + 1, execution_id
        finally:
            for replica in replicas:
                replica.stop()


def test_a_heartbeat_timeout_that_is_not_a_duration_is_invalid_argument(
    leased: tuple[ServerThread, TrackingServiceStub],
) -> None:
    _, stub = leased
    with pytest.raises(grpc.RpcError) as refused:
        create_execution(stub, heartbeat_timeout=Duration(seconds=5, nanos=-500_000_000))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "is not a valid duration" in violations(refused.value)["execution.heartbeat_timeout"]


def test_a_start_from_a_lapsed_cancel_request_keeps_the_cancel_request(
    leased: tuple[ServerThread, TrackingServiceStub],
) -> None:
    server, stub = leased
    execution_id, _ = started(stub)
    stub.CancelExecution(pb.CancelExecutionRequest(execution_id=execution_id, reason="stop"))
    sweep_after(server, status(stub, execution_id))
    restarted = act(stub, execution_id, start=pb.StartAction(phase="back"))
    assert restarted.status == spb.RUNNING_STATUS_CANCEL_REQUESTED
    assert (restarted.cancel_reason, restarted.phase) == ("stop", "back")


def test_a_lapsed_execution_can_be_suspended_by_its_worker(
    leased: tuple[ServerThread, TrackingServiceStub],
) -> None:
    server, stub = leased
    execution_id, job = started(stub)
    sweep_after(server, job)
    suspended = act(stub, execution_id, suspend=pb.SuspendAction(reason="preempted"))
    assert suspended.status == spb.RUNNING_STATUS_SUSPENDED


def test_cancelling_an_execution_whose_worker_went_silent_ends_it(
    leased: tuple[ServerThread, TrackingServiceStub],
) -> None:
    server, stub = leased
    execution_id, job = started(stub)
    sweep_after(server, job)
    canceled = stub.CancelExecution(
        pb.CancelExecutionRequest(execution_id=execution_id, reason="gone")
    ).job_status
    assert canceled.status == spb.RUNNING_STATUS_CANCELED
    assert canceled.stop_message == "gone"
    assert canceled.HasField("end_time")
