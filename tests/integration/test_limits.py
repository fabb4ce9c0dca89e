"""Oversized requests are refused with RESOURCE_EXHAUSTED, and the server keeps serving."""

from __future__ import annotations

import grpc
import pytest

from tests.support.factories import create_execution
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
    raw = channel.unary_unary("/tracking.v1.TrackingService/AppendLogs", None, None)
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
