"""WatchStatus, StreamLogs and StreamMetrics as server-sent events: `GET /events/<Method>?<request fields>`.

Each event's `id:` is its cursor (a revision, a log seq, a metric point seq, a resume token), so an EventSource
that reconnects (a network cut, a drain, a restart) sends it back as Last-Event-ID and
resumes right after it: no gap, no duplicate. `data:` is the response message in
proto-JSON. Heartbeats are comment lines. A stream that ends sends `event: end`; one that
fails sends `event: error` with the Connect error, then closes.

The composed behavior runs in one task of its own (its context variables, such as the
caller's principal, stay with it) and hands its responses over a queue of one: a reader
that stops reading stops the task. When its watcher overflows, as a slow gRPC watcher's
does, the connection is closed at once (its unsent bytes dropped), and the EventSource
resumes from the last event it did read.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tracking.service.api.registration import Method
from tracking.service.api.streams import overflow_listener
from tracking.service.domain.errors import Violation
from tracking.service.http.context import HttpAbort, HttpCallContext, call_context
from tracking.service.http.protocol import ABORT_EXTENSION
from tracking.service.http.query import request_from_query
from tracking.service.http.responses import error_body, error_response
from tracking.service.wrapping import Malformed
from tracking.v1 import tracking_service_pb2 as pb

log = logging.getLogger(__name__)
# How long EventSource waits before reconnecting.
RETRY_MS = 1000
# A stream that fails this soon answers with an HTTP status (EventSource then gives up);
# later failures are `event: error` in the stream.
START_SECONDS = 1.0
# A stream refused as it opens answers an HTTP status, so that EventSource gives up, unless
# the server is draining: then `event: error` makes it retry (elsewhere, or once restarted).
RETRY_AT_OPEN = grpc.StatusCode.UNAVAILABLE


@dataclass(frozen=True)
class StreamShape:
    """How one streaming method's requests resume and its responses are named."""

    resume: Callable[[Any, str], str | None]  # (request, Last-Event-ID) -> bad field, if any
    cursor: Callable[[Any, Any], str]  # (request, response) -> the event id ("" for none)


INT64_MAX = 2**63 - 1


def _number(last: str) -> int | None:
    """The cursor as a revision or seq: ASCII digits within int64 (str.isdigit also takes
    "²" and other scripts' digits, and int() of those, or of a number of thousands of
    digits, fails)."""
    if not (last.isascii() and last.isdigit()) or len(last) > 19 or int(last) > INT64_MAX:
        return None
    return int(last)


def _resume_watch(request: pb.WatchStatusRequest, last: str) -> str | None:
    if request.execution_id:
        revision = _number(last)
        if revision is None:
            return "must be the revision of an event of this stream"
        request.after_revision = revision
    else:
        request.resume_token = last
    return None


def _watch_cursor(request: pb.WatchStatusRequest, response: pb.WatchStatusResponse) -> str:
    if not response.HasField("event"):
        return ""
    if request.execution_id:
        return str(response.event.revision)
    return response.event.resume_token


def _resume_logs(request: pb.StreamLogsRequest, last: str) -> str | None:
    # Resuming continues right after the cursor: no tail (which would skip lines).
    request.tail = 0
    if request.deployment_name:
        request.resume_token = last
        return None
    seq = _number(last)
    if seq is None:
        return "must be the seq of a line of this stream"
    request.after_seq = seq
    return None


def _logs_cursor(request: pb.StreamLogsRequest, response: pb.StreamLogsResponse) -> str:
    if request.deployment_name:
        return response.resume_token
    return str(response.entries[-1].seq) if response.entries else ""


def _resume_metrics(request: pb.StreamMetricsRequest, last: str) -> str | None:
    seq = _number(last)
    if seq is None:
        return "must be the seq of a point of this stream"
    request.after_seq = seq
    return None


def _metrics_cursor(request: pb.StreamMetricsRequest, response: pb.StreamMetricsResponse) -> str:
    return str(response.points[-1].seq) if response.points else ""


SHAPES = {
    "WatchStatus": StreamShape(_resume_watch, _watch_cursor),
    "StreamLogs": StreamShape(_resume_logs, _logs_cursor),
    "StreamMetrics": StreamShape(_resume_metrics, _metrics_cursor),
}


def _event(data: bytes, *, cursor: str = "", kind: str = "") -> bytes:
    head = (f"event: {kind}\n" if kind else "") + (f"id: {cursor}\n" if cursor else "")
    return head.encode() + b"data: " + data + b"\n\n"


def _json(message: Message) -> bytes:
    return json.dumps(json_format.MessageToDict(message), separators=(",", ":")).encode()


@functools.lru_cache(maxsize=64)
def _shared_watch_event(data: bytes) -> bytes:
    """The event of a change WatchStatus fans out as the same bytes, to every watcher of an
    execution or of a deployment at one cursor: encoded once for all of them, its id the
    resume token a deployment's event carries, or else the revision."""
    response = pb.WatchStatusResponse.FromString(data)
    cursor = response.event.resume_token or str(response.event.revision)
    return _event(_json(response), cursor=cursor)


class _Done:
    """The behavior ended (error None) or failed."""

    def __init__(self, error: HttpAbort | None = None) -> None:
        self.error = error


class _EventStream(StreamingResponse):
    """The stream's response; however it ends (done, failed, the reader gone before a byte
    was sent), the task running the behavior ends with it and lets go of its watcher."""

    def __init__(
        self, body: AsyncIterator[bytes], pump: asyncio.Task[None], headers: dict[str, str]
    ) -> None:
        super().__init__(body, headers=headers, media_type="text/event-stream")
        self.pump = pump

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.pump


class SseEndpoint:
    """One streaming method as server-sent events."""

    def __init__(self, method: Method) -> None:
        self.method = method
        self.shape = SHAPES[method.name]

    def _request(self, http: Request) -> Message | Malformed:
        request = request_from_query(
            self.method.request_class, list(http.query_params.multi_items())
        )
        last = http.headers.get("last-event-id", "").strip()
        if last and not isinstance(request, Malformed):
            problem = self.shape.resume(request, last)
            if problem:
                return Malformed(
                    request.DESCRIPTOR.full_name, [Violation("Last-Event-ID", problem)]
                )
        return request

    async def __call__(self, http: Request) -> Response:
        request = self._request(http)
        client = http.client
        context = call_context(
            http.headers.items(),
            http.headers.get("cookie", ""),
            (client.host, client.port) if client else None,
        )
        responses: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
        abort = http.scope.get("extensions", {}).get(ABORT_EXTENSION)
        pump = asyncio.create_task(self._pump(request, context, responses, abort))
        try:
            first = await asyncio.wait_for(responses.get(), START_SECONDS)
        except TimeoutError:
            first = None
        except BaseException:
            pump.cancel()
            raise
        headers = dict(context.response_headers)
        if isinstance(first, _Done) and first.error is not None:
            error = first.error
            wants_stream = "text/event-stream" in http.headers.get("accept", "")
            if not (error.code is RETRY_AT_OPEN and wants_stream):
                return error_response(error, headers)
        headers |= {"cache-control": "no-store", "x-accel-buffering": "no"}
        return _EventStream(self._body(request, first, responses), pump, headers)

    async def _pump(
        self,
        request: Any,
        context: HttpCallContext,
        out: asyncio.Queue[Any],
        abort: Callable[[], None] | None,
    ) -> None:
        # Its unsent bytes are dropped: the EventSource resumes from its Last-Event-ID.
        overflow_listener.set(None if abort is None else lambda _message: abort())
        try:
            async for response in self.method.stream(request, cast(Any, context)):
                await out.put(response)
        except HttpAbort as abort:
            await out.put(_Done(abort))
        except Exception:
            # The error interceptor turns every failure into a status: this is a defect here.
            log.exception("event stream of %s failed", self.method.name)
            internal = HttpAbort(
                grpc.StatusCode.INTERNAL, "internal error; see the server log", None
            )
            await out.put(_Done(internal))
        else:
            await out.put(_Done())

    async def _body(
        self, request: Any, first: Any, responses: asyncio.Queue[Any]
    ) -> AsyncIterator[bytes]:
        yield f"retry: {RETRY_MS}\n\n".encode()
        item = first if first is not None else await responses.get()
        while True:
            if isinstance(item, _Done):
                if item.error is None:
                    yield _event(b"{}", kind="end")
                else:
                    yield _event(error_body(item.error), kind="error")
                return
            yield self._encode(request, item)
            item = await responses.get()

    def _encode(self, request: Any, response: Any) -> bytes:
        if isinstance(response, bytes):
            return _shared_watch_event(response)
        if self._is_heartbeat(response):
            return f": heartbeat {response.heartbeat.time.ToJsonString()}\n\n".encode()
        return _event(_json(response), cursor=self.shape.cursor(request, response))

    @staticmethod
    def _is_heartbeat(response: Any) -> bool:
        return response.HasField("heartbeat") and not (
            getattr(response, "entries", None) or getattr(response, "points", None)
        )
