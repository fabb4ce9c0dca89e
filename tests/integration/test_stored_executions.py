"""GetExecution and ListExecutions answer from each execution's stored message.

What they show is what converting the row's columns shows, in every state an execution
passes through; a heartbeat moves the lease times they show without a new message; and a
row whose message is missing or behind its revision (as an older version leaves it) is
shown from its columns.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from google.protobuf.struct_pb2 import Struct
from sqlalchemy import text

from tests.support.server import ServerThread
from tracking.service.store import executions as execution_store
from tracking.v1 import execution_pb2, io_pb2, status_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def _sql(server: ServerThread, statement: str, **values: Any) -> list[Any]:
    async def run() -> list[Any]:
        assert server.app is not None
        async with server.app.database.write_engine.begin() as connection:
            result = await connection.execute(text(statement), values)
            return list(result) if result.returns_rows else []

    return list(server.run(run()))


def _message_is_current(server: ServerThread, execution_id: str) -> bool:
    ((message, message_revision, revision),) = _sql(
        server,
        "SELECT message, message_revision, revision FROM executions WHERE execution_id = :id",
        id=execution_id,
    )
    return message is not None and message_revision == revision


def _shown(stub: TrackingServiceStub, execution_id: str, experiment: str) -> Any:
    """The execution as GetExecution shows it, checked against the ListExecutions item."""
    execution = stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id)).execution
    listed = stub.ListExecutions(
        pb.ListExecutionsRequest(filter=f'experiment_name = "{experiment}"')
    ).executions
    (item,) = [e for e in listed if e.execution_id == execution_id]
    running = execution.job_status.HasField("start_time") and not execution.job_status.HasField(
        "end_time"
    )
    if running:
        # A running job's duration grows between the two reads.
        assert execution.job_status.duration.ToTimedelta().total_seconds() >= 0
        item.job_status.ClearField("duration")
        execution.job_status.ClearField("duration")
    assert item == execution
    return execution


def _same_as_its_columns(
    server: ServerThread, stub: TrackingServiceStub, execution_id: str, experiment: str
) -> None:
    assert _message_is_current(server, execution_id)
    stored = _shown(stub, execution_id, experiment)
    status = stub.GetJobStatus(pb.GetJobStatusRequest(execution_id=execution_id)).job_status
    for name in ("last_heartbeat_time", "lease_expire_time", "status", "revision", "phase"):
        assert getattr(stored.job_status, name) == getattr(status, name), name
    ((message,),) = _sql(
        server, "SELECT message FROM executions WHERE execution_id = :id", id=execution_id
    )
    _sql(server, "UPDATE executions SET message = NULL WHERE execution_id = :id", id=execution_id)
    assert _shown(stub, execution_id, experiment) == stored
    _sql(
        server,
        "UPDATE executions SET message = :message WHERE execution_id = :id",
        id=execution_id,
        message=message,
    )


def test_every_state_shows_what_its_columns_show(
    server: ServerThread, stub: TrackingServiceStub
) -> None:
    experiment = f"stored-{uuid.uuid4().hex[:8]}"
    execution = execution_pb2.Execution(
        job_name="train",
        experiment_name=experiment,
        job_type=execution_pb2.JOB_TYPE_TRAIN,
        labels={"team": "vision"},
        command=["python", "train.py"],
        steps=[execution_pb2.Step(name="load")],
        inputs=[io_pb2.ExecutionInput(name="data", data_type="string", constant_value="cats")],
    )
    execution.heartbeat_timeout.FromSeconds(60)
    created = stub.CreateExecution(pb.CreateExecutionRequest(execution=execution)).execution
    execution_id = created.execution_id
    _same_as_its_columns(server, stub, execution_id, experiment)
    result = Struct()
    result.update({"accuracy": 0.93, "classes": ["cat", "dog"]})
    actions: list[
        pb.UpdateJobStatusRequest | pb.SetExecutionOutputsRequest | pb.UpdateStepRequest
    ] = [
        pb.UpdateJobStatusRequest(start=pb.StartAction(phase="loading")),
        pb.UpdateJobStatusRequest(progress=pb.ProgressAction(progress=0.5, phase="epoch 1")),
        pb.UpdateJobStatusRequest(heartbeat=pb.HeartbeatAction()),
        pb.SetExecutionOutputsRequest(
            outputs=[io_pb2.ExecutionOutput(name="model")],
            result=result,
            export_paths={"model": "s3://bucket/model"},
        ),
        pb.UpdateStepRequest(
            step=execution_pb2.Step(name="load", status=status_pb2.RUNNING_STATUS_SUCCESS)
        ),
        pb.UpdateJobStatusRequest(suspend=pb.SuspendAction(reason="preempted")),
        pb.UpdateJobStatusRequest(resume=pb.ResumeAction()),
        pb.UpdateJobStatusRequest(
            stop=pb.StopAction(cause=status_pb2.RUNNING_STATUS_SUCCESS, message="done")
        ),
    ]
    for action in actions:
        action.execution_id = execution_id
        if isinstance(action, pb.UpdateJobStatusRequest):
            stub.UpdateJobStatus(action)
        elif isinstance(action, pb.SetExecutionOutputsRequest):
            stub.SetExecutionOutputs(action)
        else:
            stub.UpdateStep(action)
        _same_as_its_columns(server, stub, execution_id, experiment)
    shown = stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id)).execution
    assert shown.job_status.status == status_pb2.RUNNING_STATUS_SUCCESS
    assert shown.job_status.phase == "done"
    assert shown.result == result
    assert shown.steps[0].status == status_pb2.RUNNING_STATUS_SUCCESS


def test_reported_times_and_a_cancel_show_what_their_columns_show(
    server: ServerThread, stub: TrackingServiceStub
) -> None:
    experiment = f"stored-{uuid.uuid4().hex[:8]}"
    created = stub.CreateExecution(
        pb.CreateExecutionRequest(execution=execution_pb2.Execution(experiment_name=experiment))
    ).execution
    execution_id = created.execution_id
    stub.UpdateJobStatus(
        pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
    )
    # A platform's own times: created 200 s ago, started 150 s ago, ran 90 s.
    now = int(time.time())
    times = pb.TimesAction()
    times.create_time.FromSeconds(now - 200)
    times.start_time.FromSeconds(now - 150)
    times.duration.FromSeconds(90)
    stub.UpdateJobStatus(pb.UpdateJobStatusRequest(execution_id=execution_id, times=times))
    _same_as_its_columns(server, stub, execution_id, experiment)
    shown = stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id)).execution
    assert shown.job_status.duration.seconds == 90
    stub.CancelExecution(pb.CancelExecutionRequest(execution_id=execution_id, reason="no need"))
    _same_as_its_columns(server, stub, execution_id, experiment)


def test_a_heartbeat_moves_the_lease_shown_without_a_new_message(
    server: ServerThread, stub: TrackingServiceStub
) -> None:
    experiment = f"stored-{uuid.uuid4().hex[:8]}"
    execution = execution_pb2.Execution(experiment_name=experiment)
    execution.heartbeat_timeout.FromSeconds(60)
    execution_id = stub.CreateExecution(
        pb.CreateExecutionRequest(execution=execution)
    ).execution.execution_id
    stub.UpdateJobStatus(
        pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
    )
    (before,) = _sql(
        server, "SELECT message FROM executions WHERE execution_id = :id", id=execution_id
    )
    first = _shown(stub, execution_id, experiment).job_status.last_heartbeat_time
    stub.UpdateJobStatus(
        pb.UpdateJobStatusRequest(execution_id=execution_id, heartbeat=pb.HeartbeatAction())
    )
    (after,) = _sql(
        server, "SELECT message FROM executions WHERE execution_id = :id", id=execution_id
    )
    assert after == before
    shown = _shown(stub, execution_id, experiment).job_status
    status = stub.GetJobStatus(pb.GetJobStatusRequest(execution_id=execution_id)).job_status
    assert shown.last_heartbeat_time.ToDatetime() > first.ToDatetime()
    assert shown.last_heartbeat_time == status.last_heartbeat_time
    assert shown.lease_expire_time == status.lease_expire_time


def test_a_message_behind_its_revision_is_not_shown(
    server: ServerThread, stub: TrackingServiceStub
) -> None:
    experiment = f"stored-{uuid.uuid4().hex[:8]}"
    execution_id = stub.CreateExecution(
        pb.CreateExecutionRequest(execution=execution_pb2.Execution(experiment_name=experiment))
    ).execution.execution_id
    # What a version that keeps no message does: change the columns and the revision only.
    _sql(
        server,
        "UPDATE executions SET phase = 'changed by an older version', revision = revision + 1"
        " WHERE execution_id = :id",
        id=execution_id,
    )
    shown = _shown(stub, execution_id, experiment)
    assert shown.job_status.phase == "changed by an older version"
    assert shown.job_status.revision == 2


def test_a_status_change_of_a_row_whose_message_is_behind_makes_it_from_the_columns(
    server: ServerThread, stub: TrackingServiceStub
) -> None:
    """A status change puts its JobStatus in the stored message only while that message is
    current; one behind its revision is made again from every column."""
    experiment = f"stored-{uuid.uuid4().hex[:8]}"
    execution_id = stub.CreateExecution(
        pb.CreateExecutionRequest(execution=execution_pb2.Execution(experiment_name=experiment))
    ).execution.execution_id
    _sql(
        server,
        "UPDATE executions SET pipeline_name = 'set by an older version', revision = revision + 1"
        " WHERE execution_id = :id",
        id=execution_id,
    )
    stub.UpdateJobStatus(
        pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction(phase="go"))
    )
    _same_as_its_columns(server, stub, execution_id, experiment)
    shown = _shown(stub, execution_id, experiment)
    assert shown.pipeline_name == "set by an older version"
    assert shown.job_status.phase == "go"
    stub.CancelExecution(pb.CancelExecutionRequest(execution_id=execution_id, reason="enough"))
    _same_as_its_columns(server, stub, execution_id, experiment)


def test_a_page_whose_rows_were_all_deleted_while_read_goes_on(
    server: ServerThread, stub: TrackingServiceStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows without a current message are read again whole; one deleted in between is left
    out. When that leaves nothing of a page, the list goes on after the rows it read."""
    experiment = f"stored-{uuid.uuid4().hex[:8]}"
    created = [
        stub.CreateExecution(
            pb.CreateExecutionRequest(execution=execution_pb2.Execution(experiment_name=experiment))
        ).execution.execution_id
        for _ in range(2)
    ]
    for execution_id in created:  # as an older version leaves them
        _sql(
            server, "UPDATE executions SET message = NULL WHERE execution_id = :id", id=execution_id
        )
    newest = created[-1]
    read_whole = execution_store.rows_by_id

    async def deleted_meanwhile(session: Any, execution_ids: list[str]) -> Any:
        if newest in execution_ids:
            assert server.app is not None
            async with server.app.database.write_engine.begin() as connection:
                await connection.execute(
                    text("DELETE FROM executions WHERE execution_id = :id"), {"id": newest}
                )
        return await read_whole(session, execution_ids)

    monkeypatch.setattr(execution_store, "rows_by_id", deleted_meanwhile)
    request = pb.ListExecutionsRequest(filter=f'experiment_name = "{experiment}"', page_size=1)
    listed: list[str] = []
    for _ in range(4):
        page = stub.ListExecutions(request)
        listed += [execution.execution_id for execution in page.executions]
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert listed == created[:1]
