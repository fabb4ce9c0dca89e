"""OpenTelemetry: spans joined to the caller's trace, sent to an OTLP receiver in the test.

The receiver is a real OTLP/gRPC collector endpoint (opentelemetry-proto's service) on a
port of its own; the server finds it through the standard OTEL_* variables, as it would
find a real collector.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import urllib.request
from collections.abc import Iterator
from concurrent import futures

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from tests.conftest import ServerFactory
from tests.support.cli import cli_env, tracking
from tests.support.factories import create_execution, start, unique
from tests.support.http import SERVICE
from tests.support.process import TRACKING
from tests.support.receiver import receiving
from tests.support.subscribing import subscribe_webhook, verified_event
from tests.support.waiting import wait_for
from tracking.client import TrackingClient
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import status_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
METHOD = "tracking.v1.TrackingService/"


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """Keeps every span exported to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[trace_pb2.Span] = []

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        with self._lock:
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    self._spans.extend(scope_spans.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self, rpc: str) -> list[trace_pb2.Span]:
        with self._lock:
            return [span for span in self._spans if span.name == METHOD + rpc]

    def wait(self, rpc: str, count: int = 1) -> list[trace_pb2.Span]:
        wait_for(lambda: len(self.spans(rpc)) >= count, f"{count} span(s) of {rpc}")
        return self.spans(rpc)


def attributes(span: trace_pb2.Span) -> dict[str, object]:
    found: dict[str, object] = {}
    for item in span.attributes:
        kind = item.value.WhichOneof("value")
        found[item.key] = getattr(item.value, kind) if kind else None
    return found


def export_to(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    found = Receiver()
    collector = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(found, collector)  # type: ignore[no-untyped-call]
    port = collector.add_insecure_port("127.0.0.1:0")
    collector.start()
    export_to(monkeypatch, f"http://127.0.0.1:{port}")
    yield found
    collector.stop(None)


def test_a_call_with_a_traceparent_is_a_server_span_in_the_callers_trace(
    make_server: ServerFactory, receiver: Receiver
) -> None:
    server = make_server()
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        created = stub.CreateExecution(
            pb.CreateExecutionRequest(execution=epb.Execution(job_name="traced")),
            metadata=(("traceparent", TRACEPARENT),),
        ).execution
        with pytest.raises(grpc.RpcError):
            stub.GetExecution(
                pb.GetExecutionRequest(execution_id="missing-one"),
                metadata=(("traceparent", TRACEPARENT),),
            )
    assert created.trace_parent == TRACEPARENT
    (span,) = receiver.wait("CreateExecution")
    assert span.trace_id.hex() == TRACE_ID
    assert span.parent_span_id.hex() == PARENT_ID
    assert span.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert attributes(span) | {"network.peer.port": 0} == {
        "rpc.system.name": "grpc",
        "rpc.method": METHOD + "CreateExecution",
        "rpc.response.status_code": "OK",
        "network.peer.address": "127.0.0.1",
        "network.peer.port": 0,
    }
    (missing,) = receiver.wait("GetExecution")
    assert attributes(missing)["rpc.response.status_code"] == "NOT_FOUND"
    assert attributes(missing)["error.type"] == "NOT_FOUND"
    # NOT_FOUND is the caller's mistake, not the server's failure.
    assert missing.status.code == trace_pb2.Status.STATUS_CODE_UNSET


@pytest.mark.parametrize(
    "malformed",
    [
        "not a traceparent",
        f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",
        f"00-{'0' * 32}-{PARENT_ID}-01",
        f"ff-{TRACE_ID}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{PARENT_ID}-01-extra",
    ],
)
def test_a_malformed_traceparent_is_ignored_and_never_an_error(
    make_server: ServerFactory, receiver: Receiver, malformed: str
) -> None:
    server = make_server()
    with grpc.insecure_channel(server.address) as channel:
        created = (
            TrackingServiceStub(channel)
            .CreateExecution(
                pb.CreateExecutionRequest(execution=epb.Execution(job_name="x")),
                metadata=(("traceparent", malformed),),
            )
            .execution
        )
    (span,) = receiver.wait("CreateExecution")
    assert span.parent_span_id == b""  # a trace of its own
    assert span.trace_id.hex() != TRACE_ID
    # What the execution keeps is then the server's span of its creation.
    assert created.trace_parent.startswith(f"00-{span.trace_id.hex()}-{span.span_id.hex()}-")


def test_an_http_call_joins_the_trace_of_its_traceparent_header(
    make_server: ServerFactory, receiver: Receiver
) -> None:
    server = make_server(http_address="127.0.0.1:0")
    with httpx.Client(base_url=server.http_url, timeout=30) as http:
        answer = http.post(
            SERVICE + "CreateExecution",
            json={"execution": {"jobName": "over http"}},
            headers={"traceparent": TRACEPARENT},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["execution"]["traceParent"] == TRACEPARENT
    (span,) = receiver.wait("CreateExecution")
    assert (span.trace_id.hex(), span.parent_span_id.hex()) == (TRACE_ID, PARENT_ID)
    assert attributes(span)["rpc.system.name"] == "connectrpc"


def test_a_stream_gets_a_short_span_for_its_opening_while_it_stays_open(
    make_server: ServerFactory, receiver: Receiver
) -> None:
    server = make_server()
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        watch = stub.WatchStatus(
            pb.WatchStatusRequest(execution_id=execution_id),
            metadata=(("traceparent", TRACEPARENT),),
            timeout=60,
        )
        next(watch)  # the snapshot
        # Exported while the watcher still waits: the span ended with the first message.
        (span,) = receiver.wait("WatchStatus")
        watch.cancel()
    assert (span.trace_id.hex(), span.parent_span_id.hex()) == (TRACE_ID, PARENT_ID)
    assert [(e.name, attributes(e)["rpc.message.type"]) for e in span.events] == [  # type: ignore[arg-type]
        ("rpc.message", "RECEIVED"),
        ("rpc.message", "SENT"),
    ]
    assert attributes(span)["tracking.stream.opened"] is True


def test_tracking_run_hands_the_trace_to_its_command_whose_reports_join_it(
    make_server: ServerFactory, receiver: Receiver
) -> None:
    server = make_server()
    with TrackingClient(server.address) as client:
        deployment = unique("traced")
        client.create_deployment(deployment, "scripts", "ENDPOINT")
    child = (
        "import os, subprocess, sys;"
        "print(os.environ['TRACEPARENT']);"
        f"sys.exit(subprocess.call([{str(TRACKING)!r}, 'report', 'progress', '0.5']))"
    )
    execution_id = unique("run")
    result = tracking(
        server.address,
        "run",
        "-d",
        deployment,
        "--id",
        execution_id,
        "--",
        sys.executable,
        "-c",
        child,
        env=cli_env(server.address, TRACEPARENT=TRACEPARENT),
    )
    assert result.returncode == 0, result.stderr
    assert TRACEPARENT in result.stdout  # the command was given the creator's trace context
    with TrackingClient(server.address) as client:
        execution = client.get_execution(execution_id)
    assert execution.trace_parent == TRACEPARENT
    assert execution.job_status.status == status_pb2.RUNNING_STATUS_SUCCESS
    (creation,) = receiver.wait("CreateExecution")
    # The runner's start, the command's progress report and the runner's SUCCESS.
    reports = receiver.wait("UpdateJobStatus", 3)
    for span in [creation, *reports]:
        assert (span.trace_id.hex(), span.parent_span_id.hex()) == (TRACE_ID, PARENT_ID)


def test_without_an_exporter_no_span_is_made_and_no_stage_added(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    server = make_server()
    assert server.app is not None
    assert server.app.tracing is None
    with grpc.insecure_channel(server.address) as channel:
        created = (
            TrackingServiceStub(channel)
            .CreateExecution(
                pb.CreateExecutionRequest(execution=epb.Execution(job_name="x")),
                metadata=(("traceparent", TRACEPARENT),),
            )
            .execution
        )
    # What the creator sent is kept all the same, for tracking run and the events.
    assert created.trace_parent == TRACEPARENT


def test_an_exporter_that_is_down_fails_no_call_and_its_spans_are_counted_as_dropped(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    export_to(monkeypatch, f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    server = make_server(metrics_address="127.0.0.1:0")
    assert server.app is not None
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        for _ in range(5):
            create_execution(stub)

    def dropped() -> float:
        url = f"http://127.0.0.1:{server.app.metrics_port}/metrics"  # type: ignore[union-attr]
        with urllib.request.urlopen(url, timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("tracking_trace_spans_dropped_total "):
                    return float(line.split()[1])
        return 0.0

    wait_for(lambda: dropped() >= 5, "the spans the exporter could not take to be counted")


class StuckCollector(trace_service_pb2_grpc.TraceServiceServicer):
    """A collector that takes an export and answers it only when released: one that hangs."""

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.release = threading.Event()

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.holding.set()
        self.release.wait(600)
        return trace_service_pb2.ExportTraceServiceResponse()


def test_an_exporter_that_hangs_holds_up_no_call_and_the_spans_it_cannot_take_are_dropped(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck = StuckCollector()
    collector = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(stuck, collector)  # type: ignore[no-untyped-call]
    port = collector.add_insecure_port("127.0.0.1:0")
    collector.start()
    try:
        export_to(monkeypatch, f"http://127.0.0.1:{port}")
        # The export waits for the collector as long as the test lasts; 4 spans wait behind it.
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "600")
        monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4")
        server = make_server(metrics_address="127.0.0.1:0")
        assert server.app is not None
        with grpc.insecure_channel(server.address) as channel:
            stub = TrackingServiceStub(channel)
            create_execution(stub)
            wait_for(stuck.holding.is_set, "the collector to hold an export")
            # Every call is answered while the export hangs: none waits for it.
            made = [create_execution(stub).execution_id for _ in range(20)]
        assert len(set(made)) == 20
        url = f"http://127.0.0.1:{server.app.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            metrics = response.read().decode().splitlines()
        [dropped] = [
            float(line.split()[1])
            for line in metrics
            if line.startswith("tracking_trace_spans_dropped_total ")
        ]
        # 20 spans, at most 4 of them queued: the others are dropped and counted.
        assert dropped >= 16
    finally:
        stuck.release.set()
        collector.stop(None)


def test_the_events_of_an_execution_carry_the_trace_context_it_keeps(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    server = make_server(
        outbound_allow_private_addresses=True,
        outbound_retry_base_seconds=0.05,
        outbound_retry_max_seconds=0.5,
    )
    with grpc.insecure_channel(server.address) as channel, receiving() as receiver:
        stub = TrackingServiceStub(channel)
        _, secret = subscribe_webhook(stub, receiver.url)
        traced = stub.CreateExecution(
            pb.CreateExecutionRequest(execution=epb.Execution(job_name="traced")),
            metadata=(("traceparent", TRACEPARENT),),
        ).execution
        start(stub, traced.execution_id)
        untraced = create_execution(stub)
        wait_for(lambda: len(receiver.bodies()) >= 3, "three events")
        events = [verified_event(received, secret) for received in receiver.bodies()]
    by_execution = {
        (e.get_subject(), e.get_type().split(".")[-2]): e.get_extension("traceparent")
        for e in events
    }
    assert by_execution == {
        (traced.execution_id, "created"): TRACEPARENT,
        (traced.execution_id, "status_changed"): TRACEPARENT,
        (untraced.execution_id, "created"): None,
    }
