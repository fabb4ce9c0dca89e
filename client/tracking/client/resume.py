"""Streams that resume by themselves: the cursors of WatchStatus and StreamLogs, and the
reconnect budget. Pure logic, no I/O: each client opens the calls, feeds every response to
a cursor, and asks Reconnects what to do when a call fails.

- A call that fails with UNAVAILABLE (server shutting down or unreachable),
  RESOURCE_EXHAUSTED (the watcher fell behind and was closed, or a limit of the caller was
  reached), or that was cut off on the far side (retry.cut_off: INTERNAL from a stream a
  proxy reset when the replica behind nginx died, CANCELLED from a server that stopped) is
  opened again from the cursor after a backoff drawn by the RetryPolicy. The
  count of failures starts again at zero after every message received, so only
  `max_attempts` failures in a row without a message give up, with the last error.
- Any other error (NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION when retention
  removed what the cursor points to, DEADLINE_EXCEEDED, ...) is raised at once.
- The cursors never hand out an event whose revision is not above the last one handed out
  for the same execution, nor a log line whose seq is not above the last one.
- Each reconnect is logged at INFO on the "tracking.client" logger, with the error.

The budget is the client's RetryPolicy: DEFAULT_RETRY (4 attempts, backoff caps 0.5, 1 and
2 s) rides out a few seconds without a server at most; a watcher meant to outlive restarts
wants more, e.g. RetryPolicy(max_attempts=30, max_backoff=30).

A deployment-wide (or service-wide) watch resumes from the resume_token of the last event
or snapshot handed out; the opening snapshots all carry the same token, so a watch cut off
in the middle of them resumes after them, without the snapshots it had not received.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, NoReturn, TypeVar

import grpc
from google.protobuf.message import Message

from tracking.v1 import execution_pb2, metric_pb2, status_pb2
from tracking.v1 import tracking_service_pb2 as pb

from . import methods as m
from . import requests as rq
from .errors import DeadlineExceeded, from_rpc_error
from .retry import RetryPolicy, cut_off

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
Item = TypeVar("Item")

log = logging.getLogger("tracking.client")

RESUMABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
"""The codes after which a stream is opened again from its cursor."""

TERMINAL_STATUSES = frozenset(
    {
        status_pb2.RUNNING_STATUS_SUCCESS,
        status_pb2.RUNNING_STATUS_ERROR,
        status_pb2.RUNNING_STATUS_CANCELED,
    }
)


class ResumableStream(ABC, Generic[Req, Resp, Item]):
    """The position of a server stream that is read across several calls."""

    method: m.Method[Req, Resp]

    def __init__(self) -> None:
        # True once everything the stream has to give was handed out: the server is about
        # to end the call, and an error from now on needs no reconnect.
        self.done = False

    @abstractmethod
    def request(self) -> Req:
        """The request that opens (or reopens) the stream at the cursor."""

    @abstractmethod
    def accept(self, response: Resp) -> list[Item]:
        """Advance the cursor past `response`; the items to hand out (duplicates dropped)."""

    @abstractmethod
    def position(self) -> str:
        """Where the stream would resume, for log messages."""


def is_final(event: execution_pb2.ExecutionEvent) -> bool:
    """Whether a single-execution watch ends after this event (terminal status, or deleted)."""
    return (
        event.job_status.status in TERMINAL_STATUSES
        or execution_pb2.CHANGE_KIND_DELETED in event.changes
    )


class StatusWatch(
    ResumableStream[pb.WatchStatusRequest, pb.WatchStatusResponse, execution_pb2.ExecutionEvent]
):
    """WatchStatus of one execution (resumed by after_revision) or of many (by resume_token).

    Hands out events (snapshots included), never heartbeats.
    """

    method = m.WATCH_STATUS

    def __init__(
        self,
        *,
        execution_id: str = "",
        deployment_name: str = "",
        after_revision: int = 0,
        resume_token: str = "",
    ) -> None:
        super().__init__()
        self.execution_id = execution_id
        self.deployment_name = deployment_name
        self.after_revision = after_revision
        self.resume_token = resume_token
        # The last revision handed out, per execution.
        self.revisions: dict[str, int] = {}
        if execution_id and after_revision > 0:
            self.revisions[execution_id] = after_revision

    def request(self) -> pb.WatchStatusRequest:
        return rq.watch_status(
            execution_id=self.execution_id,
            deployment_name=self.deployment_name,
            after_revision=self.after_revision,
            resume_token=self.resume_token,
        )

    def accept(self, response: pb.WatchStatusResponse) -> list[execution_pb2.ExecutionEvent]:
        if not response.HasField("event"):
            return []  # a heartbeat
        event = response.event
        # The cursor moves even past a duplicate: what it points to was handed out already.
        if self.execution_id:
            self.after_revision = max(self.after_revision, event.revision)
        elif event.resume_token:
            self.resume_token = event.resume_token
        last = self.revisions.get(event.execution_id)
        if last is not None and event.revision <= last:
            return []
        deleted = execution_pb2.CHANGE_KIND_DELETED in event.changes
        if deleted and not self.execution_id:
            # Its id may be used again, by a new execution whose revisions start over.
            self.revisions.pop(event.execution_id, None)
        else:
            self.revisions[event.execution_id] = event.revision
        if self.execution_id and is_final(event):
            self.done = True
        return [event]

    def position(self) -> str:
        if self.execution_id:
            return f"WatchStatus of {self.execution_id!r} after revision {self.after_revision}"
        scope = f"of deployment {self.deployment_name!r}" if self.deployment_name else "of all"
        start = "the last resume_token" if self.resume_token else "a fresh snapshot"
        return f"WatchStatus {scope} from {start}"


class LogFollow(
    ResumableStream[pb.StreamLogsRequest, pb.StreamLogsResponse, execution_pb2.LogEntry]
):
    """StreamLogs of one execution, resumed after the seq of the last line handed out; or
    of a whole deployment, resumed from the resume_token of the last response received.

    For one execution, `tail` only shapes the first call: once a line was handed out, a new
    call asks for what follows it (with the same since, stream, filters and follow); before
    that, the first request is sent again as it was. For a deployment, every call sends the
    first request with the newest resume_token; the server sends each line once across
    them (its tail only counts for the executions it had not reached).
    """

    method = m.STREAM_LOGS

    def __init__(self, first: pb.StreamLogsRequest) -> None:
        super().__init__()
        self.first = first
        self.last_seq: int | None = None  # of the last line handed out (one execution)
        self.resume_token = first.resume_token  # of the last response received (a deployment)

    def request(self) -> pb.StreamLogsRequest:
        request = pb.StreamLogsRequest()
        request.CopyFrom(self.first)
        if self.first.deployment_name:
            request.resume_token = self.resume_token
        elif self.last_seq is not None:
            request.after_seq = self.last_seq
            request.tail = 0
        return request

    def accept(self, response: pb.StreamLogsResponse) -> list[execution_pb2.LogEntry]:
        if self.first.deployment_name:
            if response.resume_token:
                self.resume_token = response.resume_token
            return list(response.entries)
        floor = self.first.after_seq if self.last_seq is None else self.last_seq
        fresh: list[execution_pb2.LogEntry] = []
        for entry in response.entries:
            if entry.seq > floor:
                fresh.append(entry)
                floor = self.last_seq = entry.seq
        return fresh

    def position(self) -> str:
        request = self.request()
        if request.deployment_name:
            start = "the last resume_token" if request.resume_token else "the start"
            return f"StreamLogs of deployment {request.deployment_name!r} from {start}"
        where = f"after seq {request.after_seq}"
        if request.tail:
            where += f" (last {request.tail} lines)"
        return f"StreamLogs of {request.execution_id!r} {where}"


class MetricFollow(
    ResumableStream[pb.StreamMetricsRequest, pb.StreamMetricsResponse, metric_pb2.MetricPoint]
):
    """StreamMetrics of one execution, resumed after the seq of the last point handed out."""

    method = m.STREAM_METRICS

    def __init__(self, first: pb.StreamMetricsRequest) -> None:
        super().__init__()
        self.first = first
        self.last_seq = first.after_seq

    def request(self) -> pb.StreamMetricsRequest:
        request = pb.StreamMetricsRequest()
        request.CopyFrom(self.first)
        request.after_seq = self.last_seq
        return request

    def accept(self, response: pb.StreamMetricsResponse) -> list[metric_pb2.MetricPoint]:
        fresh: list[metric_pb2.MetricPoint] = []
        for point in response.points:
            if point.seq > self.last_seq:
                fresh.append(point)
                self.last_seq = point.seq
        return fresh

    def position(self) -> str:
        return f"StreamMetrics of {self.first.execution_id!r} after seq {self.last_seq}"


class Reconnects:
    """The reconnect budget of one resuming stream, and its overall deadline.

    The delay before reconnect n (n failures in a row) is `policy.backoff(n)`; the count
    goes back to zero after every message received (`progressed`).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        timeout: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.deadline = None if timeout is None else clock() + timeout
        self.failures = 0

    def progressed(self) -> None:
        self.failures = 0

    def remaining(self) -> float | None:
        """The deadline of the next call; raise DeadlineExceeded once the timeout is spent."""
        if self.deadline is None:
            return None
        left = self.deadline - self.clock()
        if left <= 0:
            raise DeadlineExceeded("the stream's timeout expired while it was reconnecting")
        return left

    def delay_after(self, err: grpc.RpcError, stream: ResumableStream[Req, Resp, Item]) -> float:
        """The backoff before reopening `stream` after `err`; raise it if it is final."""
        code = err.code() if callable(getattr(err, "code", None)) else None
        self.failures += 1
        resumable = code in RESUMABLE_CODES or cut_off(err)
        if not resumable or self.failures >= self.policy.max_attempts:
            self.give_up(err)
        delay = self.policy.backoff(self.failures)
        left = None if self.deadline is None else max(0.0, self.deadline - self.clock())
        if left is not None:
            delay = min(delay, left)
        assert code is not None
        log.info(
            "%s ended with %s (%s); reconnecting in %.3f s (failure %d of at most %d in a row)",
            stream.position(),
            code.name,
            err.details() if callable(getattr(err, "details", None)) else "",
            delay,
            self.failures,
            self.policy.max_attempts,
            extra={"reconnect_failure": self.failures, "reconnect_code": code.name},
        )
        return delay

    @staticmethod
    def give_up(err: grpc.RpcError) -> NoReturn:
        raise from_rpc_error(err) from err
