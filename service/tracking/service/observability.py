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
from tracking.service.wrapping import Context, StreamStage, Unary, WrappingInterceptor

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


@dataclass(frozen=True, slots=True)
class _Call:
    method: str
    request_id: str
    started: float
    peer: str


class ObservabilityInterceptor(WrappingInterceptor):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def _begin(self, method: str, context: Context) -> _Call:
        given = dict(context.invocation_metadata() or ()).get("x-request-id", "")
        rid = str(given)[:64] if given else f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"
        request_id.set(rid)
        # Read the peer now: once a call was cancelled, asking its context can crash.
        return _Call(method, rid, time.perf_counter(), context.peer())

    def _end(self, call: _Call, code: grpc.StatusCode) -> None:
        elapsed = time.perf_counter() - call.started
        name = call.method.rsplit("/", 1)[-1]
        self.metrics.calls.labels(name, code.name).inc()
        self.metrics.latency.labels(name).observe(elapsed)
        level = logging.INFO if code in _SERVER_FAULTS else logging.DEBUG
        if log.isEnabledFor(level):
            extra = {
                "method": call.method,
                "code": code.name,
                "duration_ms": round(elapsed * 1000, 2),
                "peer": call.peer,
            }
            log.log(level, "call", extra=extra)

    def wrap_unary(self, behavior: Unary, method: str) -> Unary:
        async def unary(request: Any, context: Context) -> Any:
            call = self._begin(method, context)
            await context.send_initial_metadata((("x-request-id", call.request_id),))
            error: BaseException | None = None
            try:
                return await behavior(request, context)
            except BaseException as raised:
                error = raised
                raise
            finally:
                self._end(call, _ended_with(error, context))

        return unary

    def stream_stage(self, method: str) -> StreamStage:
        async def open_stream(request: Any, context: Context) -> _Call:
            call = self._begin(method, context)
            await context.send_initial_metadata((("x-request-id", call.request_id),))
            return call

        def close(call: _Call | None, context: Context, error: BaseException | None) -> None:
            if call is not None:  # None: the client left before the stream began
                self._end(call, _ended_with(error, context))

        return StreamStage(open_stream, close=close)


_CODES = {code.value[0]: code for code in grpc.StatusCode}
# A call line is written at DEBUG, unless the server failed it.
_SERVER_FAULTS = frozenset(
    {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}
)


def _ended_with(error: BaseException | None, context: Context) -> grpc.StatusCode:
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
