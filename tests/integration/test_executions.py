"""Executions: create (idempotent), get, list, delete, inputs, outputs, steps, on each database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import struct_pb2

from tests.support.factories import (
    create_deployment,
    create_execution,
    start,
    stop,
    unique,
    violations,
)
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import io_pb2
from tracking.v1 import status_pb2 as spb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def _value(**kind: object) -> struct_pb2.Value:
    return struct_pb2.Value(**kind)  # type: ignore[arg-type]


def test_create_in_deployment_inherits_pipeline_and_becomes_last_execution(
    stub: TrackingServiceStub,
) -> None:
    deployment = create_deployment(stub, pipeline_name="inherited")
    execution = create_execution(
        stub,
        deployment_name=deployment.name,
        job_name="fit",
        job_type=epb.JOB_TYPE_TRAIN,
        experiment_name="iris_classification_species",
        model_run_id="model-7",
        labels={"owner": "ana"},
        inputs=[
            io_pb2.ExecutionInput(
                name="epochs",
                data_type="number",
                source=io_pb2.INPUT_SOURCE_CONSTANT,
                constant_value="3",
                value=_value(number_value=3),
            )
        ],
        steps=[epb.Step(name="prepare", origin=epb.STEP_ORIGIN_LOCAL)],
    )
    assert execution.execution_id.startswith(f"{deployment.name}-")
    assert execution.pipeline_name == "inherited"
    assert execution.job_status.status == spb.RUNNING_STATUS_WAITING
    assert execution.job_status.revision == 1
    assert execution.created_by == "anonymous"
    fetched = stub.GetExecution(
        pb.GetExecutionRequest(execution_id=execution.execution_id)
    ).execution
    assert fetched.execution_id == execution.execution_id
    assert fetched.job_type == epb.JOB_TYPE_TRAIN
    assert fetched.inputs[0].value.number_value == 3
    assert fetched.steps[0].origin == epb.STEP_ORIGIN_LOCAL
    assert dict(fetched.labels) == {"owner": "ana"}
    again = stub.GetDeployment(pb.GetDeploymentRequest(name=deployment.name)).deployment
    assert again.last_execution_id == execution.execution_id


def test_standalone_execution_with_chosen_id(stub: TrackingServiceStub) -> None:
    chosen = unique("Job")
    execution = create_execution(stub, execution_id=chosen, job_name="solo")
    assert execution.execution_id == chosen
    assert execution.deployment_name == ""
    with pytest.raises(grpc.RpcError) as caught:
        create_execution(stub, execution_id=chosen)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_repeated_request_id_returns_the_first_execution(stub: TrackingServiceStub) -> None:
    request_id = unique("req")
    job_name = unique("once")
    first = create_execution(stub, request_id=request_id, job_name=job_name)
    second = create_execution(stub, request_id=request_id, job_name=job_name)
    assert second.execution_id == first.execution_id
    listed = stub.ListExecutions(pb.ListExecutionsRequest(page_size=1000)).executions
    assert sum(1 for e in listed if e.job_name == job_name) == 1
    with pytest.raises(grpc.RpcError) as caught:
        create_execution(stub, request_id=request_id, job_name="different")
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert request_id in caught.value.details()


def test_create_in_missing_or_disabled_deployment(stub: TrackingServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        create_execution(stub, deployment_name=unique("ghost"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    disabled = create_deployment(stub, is_enabled=False)
    with pytest.raises(grpc.RpcError) as caught:
        create_execution(stub, deployment_name=disabled.name)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "disabled" in caught.value.details()


@pytest.mark.parametrize(
    ("fields", "request_id", "field"),
    [
        ({"execution_id": "has space"}, "", "execution.execution_id"),
        ({"execution_id": "x" * 129}, "", "execution.execution_id"),
        ({"deployment_name": "Not_Valid"}, "", "execution.deployment_name"),
        ({"job_type": 12}, "", "execution.job_type"),
        ({"labels": {"": "v"}}, "", "execution.labels['']"),
        (
            {"inputs": [io_pb2.ExecutionInput(name="a"), io_pb2.ExecutionInput(name="a")]},
            "",
            "execution.inputs[1]",
        ),
        (
            {"inputs": [io_pb2.ExecutionInput(name="a", source=99)]},
            "",
            "execution.inputs[0].source",
        ),
        ({"steps": [epb.Step(name="s", status=40)]}, "", "execution.steps[0].status"),
        ({}, "bad request id", "request_id"),
    ],
)
def test_bad_execution_is_invalid_argument(
    stub: TrackingServiceStub, fields: dict[str, object], request_id: str, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        create_execution(stub, request_id=request_id, **fields)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(caught.value)


@pytest.mark.parametrize("rpc", ["GetExecution", "DeleteExecution", "GetJobStatus"])
def test_missing_and_malformed_ids(stub: TrackingServiceStub, rpc: str) -> None:
    request_type = getattr(pb, f"{rpc}Request")
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stub, rpc)(request_type(execution_id=unique("none")))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    for bad in ("", "../etc", "a b"):
        with pytest.raises(grpc.RpcError) as caught:
            getattr(stub, rpc)(request_type(execution_id=bad))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "execution_id" in violations(caught.value)


def test_list_by_deployment_status_labels_and_time(stub: TrackingServiceStub) -> None:
    deployment = create_deployment(stub)
    executions = [
        create_execution(
            stub, deployment_name=deployment.name, labels={"kind": "a" if i % 2 else "b"}
        )
        for i in range(6)
    ]
    start(stub, executions[0].execution_id)
    start(stub, executions[1].execution_id)
    stop(stub, executions[1].execution_id)

    def ids(filter_text: str, page_size: int = 0) -> list[str]:
        found: list[str] = []
        token = ""
        while True:
            page = stub.ListExecutions(
                pb.ListExecutionsRequest(filter=filter_text, page_size=page_size, page_token=token)
            )
            found.extend(e.execution_id for e in page.executions)
            token = page.next_page_token
            if not token:
                return found

    scope = f'deployment_name = "{deployment.name}"'
    newest_first = [e.execution_id for e in reversed(executions)]
    assert ids(scope) == newest_first
    assert ids(scope, page_size=4) == newest_first
    assert ids(scope, page_size=1) == newest_first
    assert ids(f"{scope} AND status = RUNNING") == [executions[0].execution_id]
    assert set(ids(f"{scope} AND status IN (RUNNING, SUCCESS)")) == {
        executions[0].execution_id,
        executions[1].execution_id,
    }
    assert ids(f"{scope} AND labels.kind = a") == [
        e.execution_id for e in reversed(executions) if e.labels["kind"] == "a"
    ]
    assert ids(f"{scope} AND labels.kind != a") == [
        e.execution_id for e in reversed(executions) if e.labels["kind"] == "b"
    ]
    created = executions[3].job_status.create_time.ToDatetime(tzinfo=UTC)
    since = created.isoformat().replace("+00:00", "Z")
    assert ids(f'{scope} AND create_time >= "{since}"') == newest_first[:3]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ids(f'{scope} AND create_time > "{later}"') == []


def test_list_rejects_bad_filters_and_tokens(stub: TrackingServiceStub) -> None:
    for bad in (
        'create_time >= "yesterday"',
        "status > RUNNING",
        "colour = red",
        "job_type = COOKING",
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListExecutions(pb.ListExecutionsRequest(filter=bad))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "filter" in violations(caught.value)
    deployment = create_deployment(stub)
    for _ in range(2):
        create_execution(stub, deployment_name=deployment.name)
    token = stub.ListExecutions(
        pb.ListExecutionsRequest(filter=f'deployment_name = "{deployment.name}"', page_size=1)
    ).next_page_token
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListExecutions(pb.ListExecutionsRequest(page_size=1, page_token=token))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "another query" in violations(caught.value)["page_token"]


def test_delete_execution(stub: TrackingServiceStub) -> None:
    deployment = create_deployment(stub)
    execution = create_execution(stub, deployment_name=deployment.name)
    stub.AppendLogs(
        pb.AppendLogsRequest(
            execution_id=execution.execution_id, entries=[epb.LogEntry(message="x")]
        )
    )
    response = stub.DeleteExecution(pb.DeleteExecutionRequest(execution_id=execution.execution_id))
    assert response.execution_id == execution.execution_id
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=execution.execution_id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    listed = stub.ListExecutions(
        pb.ListExecutionsRequest(filter=f'deployment_name = "{deployment.name}"')
    )
    assert list(listed.executions) == []


def test_inputs_and_outputs_by_name(stub: TrackingServiceStub) -> None:
    execution = create_execution(
        stub,
        inputs=[
            io_pb2.ExecutionInput(
                name="path",
                data_type="string",
                source=io_pb2.INPUT_SOURCE_ENVIRONMENT_VARIABLE,
                environment_variable_name="DATA_PATH",
                value=_value(string_value="/data"),
            )
        ],
    )
    found = stub.GetExecutionInput(
        pb.GetExecutionInputRequest(execution_id=execution.execution_id, input_name="path")
    ).input
    assert found.environment_variable_name == "DATA_PATH"
    assert found.value.string_value == "/data"
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetExecutionInput(
            pb.GetExecutionInputRequest(execution_id=execution.execution_id, input_name="nope")
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetExecutionInput(pb.GetExecutionInputRequest(execution_id=execution.execution_id))
    assert "input_name" in violations(caught.value)

    result = struct_pb2.Struct()
    result.update({"best_epoch": 3, "val": {"accuracy": 0.9}})
    first = stub.SetExecutionOutputs(
        pb.SetExecutionOutputsRequest(
            execution_id=execution.execution_id,
            outputs=[
                io_pb2.ExecutionOutput(
                    name="score",
                    data_type="number",
                    destination=io_pb2.OUTPUT_DESTINATION_RUN,
                    value=_value(number_value=0.5),
                ),
                io_pb2.ExecutionOutput(
                    name="model",
                    destination=io_pb2.OUTPUT_DESTINATION_DATASTORE,
                    datastore_path="m/1",
                ),
            ],
            result=result,
            export_paths={"predictions": "s3://p"},
        )
    ).execution
    assert first.job_status.revision == 2
    second = stub.SetExecutionOutputs(
        pb.SetExecutionOutputsRequest(
            execution_id=execution.execution_id,
            outputs=[io_pb2.ExecutionOutput(name="score", value=_value(number_value=0.75))],
            source_views={"predictions": "view-1"},
        )
    ).execution
    assert [o.name for o in second.outputs] == ["score", "model"]
    assert second.outputs[0].value.number_value == 0.75
    assert second.result["best_epoch"] == 3
    assert dict(second.export_paths) == {"predictions": "s3://p"}
    assert dict(second.source_views) == {"predictions": "view-1"}
    output = stub.GetExecutionOutput(
        pb.GetExecutionOutputRequest(execution_id=execution.execution_id, output_name="model")
    ).output
    assert output.datastore_path == "m/1"
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetExecutionOutput(
            pb.GetExecutionOutputRequest(execution_id=execution.execution_id, output_name="x")
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.SetExecutionOutputs(
            pb.SetExecutionOutputsRequest(
                execution_id=execution.execution_id,
                outputs=[io_pb2.ExecutionOutput(value=_value(bool_value=True))],
            )
        )
    assert "outputs[0]" in violations(caught.value)


def test_update_step_adds_then_replaces(stub: TrackingServiceStub) -> None:
    execution = create_execution(stub)
    first = stub.UpdateStep(
        pb.UpdateStepRequest(
            execution_id=execution.execution_id,
            step=epb.Step(
                name="train",
                status=spb.RUNNING_STATUS_RUNNING,
                commit_id="abc",
                origin=epb.STEP_ORIGIN_GIT_REPOSITORY,
                repository_url="https://git.example/x",
                repository_branch="main",
                requirements_path="req.txt",
            ),
        )
    )
    assert first.revision == 2
    second = stub.UpdateStep(
        pb.UpdateStepRequest(
            execution_id=execution.execution_id,
            step=epb.Step(name="train", status=spb.RUNNING_STATUS_SUCCESS),
        )
    )
    assert second.revision == 3
    steps = stub.GetExecution(
        pb.GetExecutionRequest(execution_id=execution.execution_id)
    ).execution.steps
    assert [(s.name, s.status) for s in steps] == [("train", spb.RUNNING_STATUS_SUCCESS)]
    with pytest.raises(grpc.RpcError) as caught:
        stub.UpdateStep(pb.UpdateStepRequest(execution_id=execution.execution_id, step=epb.Step()))
    assert "step.name" in violations(caught.value)
