"""Oversized requests are refused with RESOURCE_EXHAUSTED, and the server keeps serving."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import struct_pb2

from tests.support.factories import create_execution, unique, violations
from tracking.v1 import deployment_pb2, io_pb2
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def test_ten_megabyte_message_is_resource_exhausted(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    huge = pb.AppendLogsRequest(
        execution_id=execution_id,
        entries=[epb.LogEntry(message="x" * 1_000_000) for _ in range(10)],
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.AppendLogs(huge)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (
        stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=execution_id)).entries == []
    )
    assert (
        stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id)).execution.execution_id
        == execution_id
    )


def _code_and_fields(call: object) -> tuple[grpc.StatusCode, dict[str, str]]:
    from tests.support.factories import violations

    try:
        call()  # type: ignore[operator]
    except grpc.RpcError as error:
        return error.code(), violations(error)
    return grpc.StatusCode.OK, {}


def test_values_no_database_can_hold_are_invalid_arguments(
    stub: TrackingServiceStub, channel: grpc.Channel
) -> None:
    from google.protobuf import struct_pb2, timestamp_pb2

    execution_id = create_execution(stub).execution_id
    nan = struct_pb2.Struct()
    nan.update({"loss": float("nan")})
    raw: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        "/tracking.v1.TrackingService/AppendLogs", None, None
    )
    cases = {
        "request": lambda: raw(b"\x0b", timeout=10),
        "reason": lambda: stub.CancelExecution(
            pb.CancelExecutionRequest(execution_id=execution_id, reason="a\x00b")
        ),
        "result": lambda: stub.SetExecutionOutputs(
            pb.SetExecutionOutputsRequest(execution_id=execution_id, result=nan)
        ),
        "entries[0].timestamp": lambda: stub.AppendLogs(
            pb.AppendLogsRequest(
                execution_id=execution_id,
                entries=[
                    epb.LogEntry(
                        message="x", timestamp=timestamp_pb2.Timestamp(seconds=1, nanos=-1000)
                    )
                ],
            )
        ),
        "entries[0].message": lambda: stub.AppendLogs(
            pb.AppendLogsRequest(
                execution_id=execution_id, entries=[epb.LogEntry(message="nul\x00")]
            )
        ),
    }
    for field, call in cases.items():
        code, fields = _code_and_fields(call)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in fields, (field, fields)
    assert (
        stub.GetJobStatus(pb.GetJobStatusRequest(execution_id=execution_id)).job_status.revision
        == 1
    )


def test_more_values_no_reader_could_handle_are_refused(stub: TrackingServiceStub) -> None:
    from google.protobuf import struct_pb2

    from tracking.v1 import deployment_pb2 as dpb
    from tracking.v1 import io_pb2

    execution_id = create_execution(stub).execution_id
    deep = struct_pb2.Value(string_value="leaf")
    for _ in range(48):
        deep = struct_pb2.Value(list_value=struct_pb2.ListValue(values=[deep]))
    many = [io_pb2.ExecutionOutput(name=f"o{i % 2}") for i in range(500)]
    periodic = dpb.EXECUTION_RULE_PERIODIC
    cases = {
        "deployment.schedule": lambda: stub.CreateDeployment(
            pb.CreateDeploymentRequest(
                deployment=dpb.Deployment(
                    name="feb30", pipeline_name="p", execution_rule=periodic, schedule="0 0 30 2 *"
                )
            )
        ),
        "filter": lambda: stub.ListExecutions(
            pb.ListExecutionsRequest(filter='create_time > "0001-01-01T00:00:00+01:00"')
        ),
        "outputs[0]": lambda: stub.SetExecutionOutputs(
            pb.SetExecutionOutputsRequest(
                execution_id=execution_id, outputs=[io_pb2.ExecutionOutput(name="deep", value=deep)]
            )
        ),
        "outputs[2]": lambda: stub.SetExecutionOutputs(
            pb.SetExecutionOutputsRequest(execution_id=execution_id, outputs=many)
        ),
        "start.phase": lambda: stub.UpdateJobStatus(
            pb.UpdateJobStatusRequest(
                execution_id=execution_id, start=pb.StartAction(phase="p" * 5000)
            )
        ),
        "reason": lambda: stub.CancelExecution(
            pb.CancelExecutionRequest(execution_id=execution_id, reason="r" * 5000)
        ),
    }
    for field, call in cases.items():
        code, fields = _code_and_fields(call)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in fields, (field, fields)
        assert len(fields) <= 51
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetDeployment(pb.GetDeploymentRequest(name="feb30"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert (
        stub.GetExecution(
            pb.GetExecutionRequest(execution_id=execution_id)
        ).execution.job_status.revision
        == 1
    )


def test_large_logs_come_back_in_pieces_that_fit(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    line = epb.LogEntry(message="x" * 65536)
    for _ in range(3):  # 7.9 MB in all, each call within the limits
        stub.AppendLogs(pb.AppendLogsRequest(execution_id=execution_id, entries=[line] * 40))
    first = stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=execution_id)).entries
    assert 0 < len(first) < 120
    rest = stub.GetExecutionLogs(
        pb.GetExecutionLogsRequest(execution_id=execution_id, after_seq=first[-1].seq)
    ).entries
    assert rest[0].seq == first[-1].seq + 1
    streamed = [
        e.seq
        for r in stub.StreamLogs(pb.StreamLogsRequest(execution_id=execution_id), timeout=30)
        for e in r.entries
    ]
    assert streamed == list(range(1, 121))


def _fill(stub: TrackingServiceStub, execution_id: str, name: str, size: int) -> None:
    output = io_pb2.ExecutionOutput(name=name, value=struct_pb2.Value(string_value="x" * size))
    stub.SetExecutionOutputs(
        pb.SetExecutionOutputsRequest(execution_id=execution_id, outputs=[output])
    )


def test_an_execution_cannot_grow_past_what_one_response_carries(
    stub: TrackingServiceStub,
) -> None:
    execution_id = create_execution(stub).execution_id
    for n in range(3):
        _fill(stub, execution_id, f"part{n}", 300_000)
    before = stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id)).execution
    with pytest.raises(grpc.RpcError) as caught:
        _fill(stub, execution_id, "part3", 300_000)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "more than the 1048576 an execution may hold" in (caught.value.details() or "")
    with pytest.raises(grpc.RpcError) as step_refused:
        stub.UpdateStep(
            pb.UpdateStepRequest(
                execution_id=execution_id,
                step=epb.Step(name="big", requirements_path="y" * 400_000),
            )
        )
    assert step_refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    after = stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id)).execution
    assert after == before  # nothing half-written, no revision spent
    # Replacing a value by a smaller one is always possible.
    _fill(stub, execution_id, "part0", 10)
    too_big = io_pb2.ExecutionInput(
        name="data", value=struct_pb2.Value(string_value="z" * 1_100_000)
    )
    with pytest.raises(grpc.RpcError) as create_refused:
        stub.CreateExecution(
            pb.CreateExecutionRequest(execution=epb.Execution(pipeline_name="p", inputs=[too_big]))
        )
    assert create_refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_page_of_large_executions_stops_before_the_message_limit(
    stub: TrackingServiceStub,
) -> None:
    label = unique("big")
    ids = []
    for _ in range(6):
        execution = stub.CreateExecution(
            pb.CreateExecutionRequest(
                execution=epb.Execution(pipeline_name="p", labels={"batch": label})
            )
        ).execution
        _fill(stub, execution.execution_id, "blob", 900_000)
        ids.append(execution.execution_id)
    request = pb.ListExecutionsRequest(filter=f'labels.batch = "{label}"', page_size=100)
    pages = []
    while True:
        response = stub.ListExecutions(request)
        assert response.ByteSize() < 4 * 1024 * 1024
        pages.append([e.execution_id for e in response.executions])
        if not response.next_page_token:
            break
        request.page_token = response.next_page_token
    assert len(pages) > 1
    assert [i for page in pages for i in page] == list(reversed(ids))


def test_many_long_violations_still_fit_what_a_default_client_accepts(
    stub: TrackingServiceStub,
) -> None:
    labels = {f"{i:02d}" + "K" * 3000: "v" * 400 for i in range(70)}
    with pytest.raises(grpc.RpcError) as refused:
        stub.CreateDeployment(
            pb.CreateDeploymentRequest(
                deployment=deployment_pb2.Deployment(
                    name="many-problems",
                    pipeline_name="p",
                    execution_rule=deployment_pb2.EXECUTION_RULE_ENDPOINT,
                    labels=labels,
                )
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    listed = violations(refused.value)
    assert "request" in listed  # "and N more problems not listed"
    assert sum(len(k) + len(v) for k, v in listed.items()) < 4096
