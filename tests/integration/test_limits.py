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
