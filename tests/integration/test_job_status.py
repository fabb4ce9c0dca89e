"""The worker's side and cancel: every transition, revisions, and what is refused."""

from __future__ import annotations

import grpc
import pytest

from tests.support.factories import act, create_execution, start, stop, violations
from tracking.v1 import status_pb2 as spb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

S = spb.RunningStatus


def status(stub: TrackingServiceStub, execution_id: str) -> spb.JobStatus:
    return stub.GetJobStatus(pb.GetJobStatusRequest(execution_id=execution_id)).job_status


def test_a_job_from_start_to_success(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    waiting = status(stub, execution_id)
    assert waiting.status == spb.RUNNING_STATUS_WAITING
    assert not waiting.HasField("start_time")
    assert waiting.duration.ToTimedelta().total_seconds() == 0

    running = act(stub, execution_id, start=pb.StartAction(phase="booting"))
    assert running.status == spb.RUNNING_STATUS_RUNNING
    assert running.phase == "booting"
    assert running.HasField("start_time")
    assert running.revision == 2

    progressed = act(stub, execution_id, progress=pb.ProgressAction(progress=0.5, phase="epoch 1"))
    assert (progressed.progress, progressed.phase, progressed.revision) == (0.5, "epoch 1", 3)
    kept_phase = act(stub, execution_id, progress=pb.ProgressAction(progress=0.6))
    assert kept_phase.phase == "epoch 1"

    suspended = act(stub, execution_id, suspend=pb.SuspendAction(reason="preempted"))
    assert suspended.status == spb.RUNNING_STATUS_SUSPENDED
    resumed = act(stub, execution_id, resume=pb.ResumeAction())
    assert resumed.status == spb.RUNNING_STATUS_RUNNING

    done = stop(stub, execution_id)
    assert done.status == spb.RUNNING_STATUS_SUCCESS
    assert done.progress == 1.0
    assert done.stop_message == ""
    assert done.HasField("end_time")
    assert done.duration.ToTimedelta() == done.end_time.ToDatetime() - done.start_time.ToDatetime()
    assert done.revision == 7
    assert status(stub, execution_id) == done


def test_stop_with_error_keeps_the_message(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    failed = stop(stub, execution_id, spb.RUNNING_STATUS_ERROR, "exit code 3")
    assert (failed.status, failed.stop_message) == (spb.RUNNING_STATUS_ERROR, "exit code 3")


def test_success_message_becomes_the_phase(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    act(stub, execution_id, start=pb.StartAction(phase="training"))
    done = stop(stub, execution_id, spb.RUNNING_STATUS_SUCCESS, "exit code 0")
    assert (done.status, done.phase, done.stop_message) == (
        spb.RUNNING_STATUS_SUCCESS,
        "exit code 0",
        "",
    )
    assert status(stub, execution_id) == done
    request = pb.WatchStatusRequest(execution_id=execution_id, after_revision=2)
    (event,) = [r.event for r in stub.WatchStatus(request, timeout=30) if r.HasField("event")]
    assert (event.job_status.phase, event.job_status.stop_message) == ("exit code 0", "")


def test_success_without_a_message_keeps_the_phase(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    act(stub, execution_id, start=pb.StartAction(phase="training"))
    done = stop(stub, execution_id)
    assert (done.phase, done.stop_message) == ("training", "")


def test_success_after_unknown_has_no_stop_message(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    lost = stop(stub, execution_id, spb.RUNNING_STATUS_UNKNOWN, "worker lost")
    assert lost.stop_message == "worker lost"
    done = stop(stub, execution_id, spb.RUNNING_STATUS_SUCCESS)
    assert (done.status, done.stop_message) == (spb.RUNNING_STATUS_SUCCESS, "")


@pytest.mark.parametrize(
    "terminal", [spb.RUNNING_STATUS_SUCCESS, spb.RUNNING_STATUS_ERROR, spb.RUNNING_STATUS_CANCELED]
)
def test_terminal_status_never_changes(stub: TrackingServiceStub, terminal: int) -> None:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    final = stop(stub, execution_id, terminal)
    attempts = [
        {"start": pb.StartAction()},
        {"progress": pb.ProgressAction(progress=0.1)},
        {"suspend": pb.SuspendAction()},
        {"resume": pb.ResumeAction()},
        {"stop": pb.StopAction(cause=spb.RUNNING_STATUS_ERROR)},
        {"stop": pb.StopAction(cause=spb.RUNNING_STATUS_SUCCESS)},
    ]
    for attempt in attempts:
        with pytest.raises(grpc.RpcError) as caught:
            act(stub, execution_id, **attempt)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert S.Name(terminal).removeprefix("RUNNING_STATUS_") in caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        stub.CancelExecution(pb.CancelExecutionRequest(execution_id=execution_id))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert status(stub, execution_id) == final


def test_illegal_transition_names_both_states(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    with pytest.raises(grpc.RpcError) as caught:
        act(stub, execution_id, suspend=pb.SuspendAction())
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "WAITING" in caught.value.details()
    assert "SUSPENDED" in caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        stop(stub, execution_id, spb.RUNNING_STATUS_SUCCESS)
    assert "from WAITING to SUCCESS" in caught.value.details()
    assert status(stub, execution_id).revision == 1


def test_stale_expected_revision_is_aborted(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    current = start(stub, execution_id)
    moved = act(
        stub,
        execution_id,
        progress=pb.ProgressAction(progress=0.2),
        expected_revision=current.revision,
    )
    assert moved.revision == current.revision + 1
    with pytest.raises(grpc.RpcError) as caught:
        act(
            stub,
            execution_id,
            progress=pb.ProgressAction(progress=0.3),
            expected_revision=current.revision,
        )
    assert caught.value.code() == grpc.StatusCode.ABORTED
    assert status(stub, execution_id).progress == pytest.approx(0.2)


@pytest.mark.parametrize("value", [-0.1, 1.01, float("nan"), float("inf")])
def test_progress_outside_zero_one_is_invalid(stub: TrackingServiceStub, value: float) -> None:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    with pytest.raises(grpc.RpcError) as caught:
        act(stub, execution_id, progress=pb.ProgressAction(progress=value))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "progress.progress" in violations(caught.value)


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({}, "action"),
        ({"stop": pb.StopAction()}, "stop.cause"),
        ({"stop": pb.StopAction(cause=spb.RUNNING_STATUS_RUNNING)}, "stop.cause"),
        ({"stop": pb.StopAction(cause=99)}, "stop.cause"),
        ({"start": pb.StartAction(), "expected_revision": -1}, "expected_revision"),
    ],
)
def test_malformed_update_is_invalid(
    stub: TrackingServiceStub, request_fields: dict[str, object], field: str
) -> None:
    execution_id = create_execution(stub).execution_id
    with pytest.raises(grpc.RpcError) as caught:
        act(stub, execution_id, **request_fields)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(caught.value)


def test_cancel_waiting_is_immediate(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    canceled = stub.CancelExecution(
        pb.CancelExecutionRequest(execution_id=execution_id, reason="not needed")
    ).job_status
    assert canceled.status == spb.RUNNING_STATUS_CANCELED
    assert canceled.cancel_reason == "not needed"
    assert canceled.stop_message == "not needed"
    assert canceled.HasField("end_time")


def test_cancel_running_asks_the_worker(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    requested = stub.CancelExecution(
        pb.CancelExecutionRequest(execution_id=execution_id, reason="stop it")
    ).job_status
    assert requested.status == spb.RUNNING_STATUS_CANCEL_REQUESTED
    assert requested.cancel_reason == "stop it"
    again = stub.CancelExecution(pb.CancelExecutionRequest(execution_id=execution_id)).job_status
    assert again.revision == requested.revision
    progressed = act(stub, execution_id, progress=pb.ProgressAction(progress=0.9))
    assert progressed.status == spb.RUNNING_STATUS_CANCEL_REQUESTED
    final = stop(stub, execution_id, spb.RUNNING_STATUS_CANCELED, "stopped on request")
    assert final.status == spb.RUNNING_STATUS_CANCELED


def test_unknown_then_recovered(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    lost = stop(stub, execution_id, spb.RUNNING_STATUS_UNKNOWN, "worker lost")
    assert lost.status == spb.RUNNING_STATUS_UNKNOWN
    assert not lost.HasField("end_time")
    assert stop(stub, execution_id, spb.RUNNING_STATUS_SUCCESS).status == spb.RUNNING_STATUS_SUCCESS


def test_status_of_missing_execution_is_not_found(stub: TrackingServiceStub) -> None:
    for call in (
        lambda: start(stub, "no-such-execution"),
        lambda: stub.CancelExecution(pb.CancelExecutionRequest(execution_id="no-such-execution")),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
