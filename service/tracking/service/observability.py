"""Metrics (Prometheus, on a port of their own) and one structured log line per call (at
DEBUG, or INFO when the server failed the call).

The interceptor is the outermost one: it sees every call, including those the
auth interceptor refuses, with its final status code and duration. Each call
gets a request id (the caller's `x-request-id`, or a new one), returned in the
response metadata and attached to every log line written while it runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from tracking.service.events.hub import EventHub
from tracking.service.log_output import ClientGone, LogFormat, chosen_format, formatter
from tracking.service.wrapping import CallFacts, Context, Stage, WrappingInterceptor

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
# Made request ids: 32 hex characters, a random prefix per process and a counter (uuid4
# read the system's random source on every call).
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count(1)


def _new_id_prefix() -> None:
    """A forked worker (serve --workers) makes ids of its own, not copies of its parent's."""
    global _ID_PREFIX
    _ID_PREFIX = secrets.token_hex(8)


os.register_at_fork(after_in_child=_new_id_prefix)
log = logging.getLogger("tracking.calls")


class Metrics:
    def __init__(self) -> None:
        self._http: Any = None
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "tracking_rpc",
            "Calls by method and status code",
            ["method", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tracking_rpc_duration_seconds",
            "Call duration by method",
            ["method"],
            registry=self.registry,
        )
        self.db_latency = Histogram(
            "tracking_db_statement_duration_seconds",
            "Database statement duration",
            registry=self.registry,
        )

    def watch(self, hub: EventHub, lines_written: Callable[[], int]) -> None:
        """Report the hub's watchers and queues, and the log lines stored so far."""
        self.registry.register(_ServiceCollector(hub, lines_written))

    def serve(self, address: str) -> int:
        """Serve /metrics over HTTP; returns the bound port."""
        host, _, port = address.rpartition(":")
        self._http, _ = start_http_server(int(port), addr=host or "0.0.0.0", registry=self.registry)
        return int(self._http.server_address[1])

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


class _ServiceCollector(Collector):
    def __init__(self, hub: EventHub, lines_written: Callable[[], int]) -> None:
        self.hub = hub
        self.lines_written = lines_written

    def collect(self) -> Iterator[Any]:
        yield CounterMetricFamily(
            "tracking_log_lines_written", "Log lines stored", value=self.lines_written()
        )
        yield GaugeMetricFamily(
            "tracking_open_watchers",
            "Open WatchStatus and StreamLogs streams",
            value=self.hub.watcher_count,
        )
        yield CounterMetricFamily(
            "tracking_events_fanned_out",
            "Events handed to watchers",
            value=self.hub.events_fanned_out,
        )
        depths = self.hub.queue_depths()
        yield GaugeMetricFamily(
            "tracking_watcher_queue_depth_max",
            "Deepest watcher queue",
            value=max(depths, default=0),
        )
        yield GaugeMetricFamily(
            "tracking_watcher_queue_depth_total",
            "Events waiting in all watcher queues",
            value=sum(depths),
        )


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure_logging(level: str, fmt: LogFormat) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.addFilter(ClientGone())
    handler.setFormatter(formatter(chosen_format(fmt, sys.stderr)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


@dataclass(slots=True)  # not frozen: a frozen dataclass is slower to make, once a call
class _Call:
    request_id: str
    started: float
    peer: str


class _MethodMetrics:
    """One method's label children, looked up once: a call counts itself without a label
    lookup (prometheus_client takes a lock and builds a key for each)."""

    def __init__(self, metrics: Metrics, method: str) -> None:
        self.method = method
        self.name = method.rsplit("/", 1)[-1]
        self._calls = metrics.calls
        self.latency = metrics.latency.labels(self.name)
        self.by_code = {grpc.StatusCode.OK: metrics.calls.labels(self.name, "OK")}

    def count(self, code: grpc.StatusCode) -> None:
        counter = self.by_code.get(code)
        if counter is None:
            counter = self.by_code[code] = self._calls.labels(self.name, code.name)
        counter.inc()


def _given_request_id(metadata: Any) -> str:
    for key, value in metadata or ():
        if key == "x-request-id":
            return str(value)[:64]
    return ""


class ObservabilityInterceptor(WrappingInterceptor):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    @staticmethod
    async def _begin(request: Any, context: Context, facts: CallFacts) -> _Call:
        rid = _given_request_id(facts.metadata)
        if not rid:
            rid = f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"
        request_id.set(rid)
        call = _Call(rid, time.perf_counter(), facts.peer)
        # gRPC's asyncio server cannot add initial metadata to the batch that sends the
        # response: this is a batch of its own (see docs/benchmarks.md).
        await context.send_initial_metadata((("x-request-id", rid),))
        return call

    @staticmethod
    def _end(method: _MethodMetrics, call: _Call, code: grpc.StatusCode) -> None:
        elapsed = time.perf_counter() - call.started
        method.count(code)
        method.latency.observe(elapsed)
        level = logging.INFO if code in _SERVER_FAULTS else logging.DEBUG
        if log.isEnabledFor(level):
            extra = {
                "method": method.method,
                "code": code.name,
                "duration_ms": round(elapsed * 1000, 2),
                "peer": call.peer,
            }
            log.log(level, "call", extra=extra)

    def unary_stage(self, method: str) -> Stage:
        return self.stream_stage(method)

    def stream_stage(self, method: str) -> Stage:
        counted = _MethodMetrics(self.metrics, method)

        def close(call: _Call | None, context: Context, error: BaseException | None) -> None:
            if call is not None:  # None: the client left before the call began
                self._end(counted, call, ended_with(error, context))

        return Stage(self._begin, close=close)


_CODES = {code.value[0]: code for code in grpc.StatusCode}
# A call line is written at DEBUG, unless the server failed it.
_SERVER_FAULTS = frozenset(
    {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}
)


def ended_with(error: BaseException | None, context: Context) -> grpc.StatusCode:
    """The status a call ended with, given the error it raised (None: it returned)."""
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED  # the client went away; leave its context alone
    return _code_of(context)


def _code_of(context: grpc.aio.ServicerContext[Any, Any]) -> grpc.StatusCode:
    """The status an aborted call ended with (None: the client went away)."""
    code: Any = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if code is None:
        return grpc.StatusCode.CANCELLED
    return _CODES.get(int(code), grpc.StatusCode.UNKNOWN)
