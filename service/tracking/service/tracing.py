"""OpenTelemetry traces: a span per call, joined to the caller's trace.

Off unless the standard OTEL_* variables configure an exporter (OTEL_TRACES_EXPORTER other
than "none", or an OTLP endpoint), and then free when off: no stage is added to any
method and the SDK is not even imported. When on, TracingInterceptor is the outermost
stage of every TrackingService method, gRPC and HTTP alike:

- a unary call gets a SERVER span named after its method ("tracking.v1.TrackingService/
  GetJobStatus"), with the RPC semantic conventions' attributes, a child of the span in
  the call's `traceparent` metadata or header (a malformed one is ignored: a new trace);
- a stream gets a short span for its opening, which ends once its first message is sent
  (or the stream ends before that), with the request and that message as span events:
  never one span held open for a stream's life.

Finished spans go to a queue that a thread of their own exports in batches
(SpanQueue): a call never waits for the exporter. What does not fit the queue, or what
the exporter failed to take (it is down), is dropped and counted
(`tracking_trace_spans_dropped_total` on /metrics).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry.propagators.textmap import Getter
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from tracking.service.observability import ended_with
from tracking.service.trace_context import server_span
from tracking.service.wrapping import SERVICE_PREFIX, CallFacts, Context, Stage, WrappingInterceptor

if TYPE_CHECKING:
    from opentelemetry.context import Context as TraceContext
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

    from tracking.service.span_queue import SpanQueue

log = logging.getLogger(__name__)

SERVICE = SERVICE_PREFIX.strip("/")
# The server-side codes the gRPC conventions count as the server's failure.
_SERVER_ERRORS = {
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS,
}


def configured(environ: Mapping[str, str]) -> bool:
    """Whether the OTEL_* variables ask for spans to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


class _SpanCounts(Collector):
    def __init__(self, queue: SpanQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Any]:
        yield CounterMetricFamily(
            "tracking_trace_spans_exported",
            "Spans the exporter took",
            value=self.queue.exported,
        )
        yield CounterMetricFamily(
            "tracking_trace_spans_dropped",
            "Spans dropped: the export queue was full, or the exporter failed (is it down?)",
            value=self.queue.dropped,
        )


def _exporter(environ: Mapping[str, str]) -> SpanExporter:
    """The exporter OTEL_TRACES_EXPORTER names (otlp by default, or console), over the
    protocol OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL names (grpc by default, or
    http/protobuf); the exporter reads its endpoint, headers and timeout itself."""
    name = environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")[0].strip().lower() or "otlp"
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: this server exports otlp or console")
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "grpc"
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        return HttpSpanExporter()
    raise ValueError(f"OTLP protocol {protocol!r}: this server speaks grpc or http/protobuf")


@dataclass
class Tracing:
    """The tracer provider of one server, its span queue and its interceptor."""

    provider: TracerProvider
    queue: SpanQueue
    interceptor: TracingInterceptor

    def count_in(self, registry: CollectorRegistry) -> None:
        registry.register(_SpanCounts(self.queue))

    def shutdown(self) -> None:
        """Export what is queued (a few seconds at most), then stop."""
        self.provider.shutdown()


def start(environ: Mapping[str, str] | None = None) -> Tracing | None:
    """The server's tracing, if the OTEL_* variables configure an exporter; else None."""
    environ = os.environ if environ is None else environ
    if not configured(environ):
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    from tracking.service.span_queue import SpanQueue

    resource = Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME") or "tracking"})
    provider = TracerProvider(resource=resource)
    queue = SpanQueue(_exporter(environ), environ)
    provider.add_span_processor(queue)
    tracer = provider.get_tracer("tracking.service")
    log.info("tracing: spans are exported (%s)", type(queue.exporter).__name__)
    return Tracing(provider, queue, TracingInterceptor(tracer))


def _peer_attributes(peer: str) -> dict[str, Any]:
    """network.peer.address and .port from a gRPC peer ("ipv4:10.0.0.7:51234")."""
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return {}
    address, _, port = rest.rpartition(":")
    attributes: dict[str, Any] = {"network.peer.address": address.strip("[]")}
    if port.isdigit():
        attributes["network.peer.port"] = int(port)
    return attributes


class _MetadataGetter(Getter[Any]):
    """Reads the W3C fields from a call's metadata, for the propagator."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        values = [str(value) for name, value in carrier if name == key]
        return values or None

    def keys(self, carrier: Any) -> list[str]:
        return [name for name, _ in carrier]


@dataclass(slots=True)
class _Opening:
    span: Span
    ended: bool = False


class TracingInterceptor(WrappingInterceptor):
    """The outermost stage when tracing is on (see the module's text)."""

    def __init__(self, tracer: Tracer) -> None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.tracer = tracer
        self._propagator = TraceContextTextMapPropagator()
        self._getter = _MetadataGetter()

    def _parent(self, metadata: Any) -> TraceContext | None:
        # The propagator ignores a malformed traceparent: the span starts a trace of its own.
        return self._propagator.extract(metadata, getter=self._getter)

    def _start(self, method: str, context: Context, facts: CallFacts) -> Span:
        from opentelemetry.trace import SpanKind

        system = getattr(context, "rpc_system", "grpc")
        attributes = {"rpc.system.name": system, "rpc.method": method.strip("/")}
        attributes.update(_peer_attributes(facts.peer))
        return self.tracer.start_span(
            method.strip("/"),
            context=self._parent(facts.metadata),
            kind=SpanKind.SERVER,
            attributes=attributes,
        )

    @staticmethod
    def _finish(span: Span, code: grpc.StatusCode, context: Context) -> None:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("rpc.response.status_code", code.name)
        if code is not grpc.StatusCode.OK:
            span.set_attribute("error.type", code.name)
        if code in _SERVER_ERRORS:
            span.set_status(Status(StatusCode.ERROR, _details(context)))
        span.end()

    def unary_stage(self, method: str) -> Stage:
        async def open_call(request: Any, context: Context, facts: CallFacts) -> _Opening:
            span = self._start(method, context, facts)
            # A creation stores its own span's context when the caller sent none.
            server_span.set(traceparent_of(span))
            return _Opening(span)

        def close(opening: _Opening | None, context: Context, error: BaseException | None) -> None:
            if opening is not None:
                self._finish(opening.span, ended_with(error, context), context)

        return Stage(open_call, close=close)

    def stream_stage(self, method: str) -> Stage:
        async def open_stream(request: Any, context: Context, facts: CallFacts) -> _Opening:
            span = self._start(method, context, facts)
            span.add_event("rpc.message", {"rpc.message.type": "RECEIVED", "rpc.message.id": 1})
            return _Opening(span)

        async def after_response(opening: _Opening, context: Context) -> None:
            if not opening.ended:
                opening.ended = True
                opening.span.add_event(
                    "rpc.message", {"rpc.message.type": "SENT", "rpc.message.id": 1}
                )
                opening.span.set_attribute("tracking.stream.opened", True)
                opening.span.end()

        def close(opening: _Opening | None, context: Context, error: BaseException | None) -> None:
            if opening is not None and not opening.ended:
                opening.ended = True
                self._finish(opening.span, ended_with(error, context), context)

        return Stage(open_stream, after_response=after_response, close=close)


def _details(context: Context) -> str:
    try:
        return str(context.details() or "")
    except Exception:
        return ""


def traceparent_of(span: Span) -> str:
    """The W3C traceparent that names `span` as a parent."""
    from opentelemetry.trace import format_span_id, format_trace_id

    span_context = span.get_span_context()
    return (
        f"00-{format_trace_id(span_context.trace_id)}-{format_span_id(span_context.span_id)}"
        f"-{int(span_context.trace_flags):02x}"
    )
