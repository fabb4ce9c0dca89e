"""Prometheus metrics and request ids."""

from __future__ import annotations

import contextlib
import urllib.request

import grpc

from tests.conftest import ServerFactory
from tests.support.factories import create_execution
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def test_metrics_count_calls_codes_watchers_and_lines(make_server: ServerFactory) -> None:
    server = make_server(metrics_address="127.0.0.1:0")
    assert server.app is not None
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        stub.AppendLogs(
            pb.AppendLogsRequest(execution_id=execution_id, entries=[epb.LogEntry(message="a")] * 3)
        )
        with contextlib.suppress(grpc.RpcError):
            stub.GetExecution(pb.GetExecutionRequest(execution_id="missing-one"))
        watch = stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=30)
        next(watch)
        url = f"http://127.0.0.1:{server.app.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        watch.cancel()
    assert 'tracking_rpc_total{code="OK",method="CreateExecution"} 1.0' in text
    assert 'tracking_rpc_total{code="NOT_FOUND",method="GetExecution"} 1.0' in text
    assert 'tracking_rpc_duration_seconds_count{method="AppendLogs"} 1.0' in text
    assert "tracking_open_watchers 1.0" in text
    assert "tracking_log_lines_written_total 3.0" in text
    assert "tracking_db_statement_duration_seconds_count" in text
    assert "tracking_watcher_queue_depth_max" in text


def test_request_id_is_echoed_or_made(make_server: ServerFactory) -> None:
    server = make_server()
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        _, call = stub.ListExecutions.with_call(
            pb.ListExecutionsRequest(), metadata=(("x-request-id", "abc-123"),)
        )
        assert ("x-request-id", "abc-123") in call.initial_metadata()
        _, call = stub.ListExecutions.with_call(pb.ListExecutionsRequest())
        made = dict(call.initial_metadata())["x-request-id"]
        assert len(made) == 32
