"""The server-streaming RPCs: WatchStatus and StreamLogs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc

from tracking.service.api.context import Context, watcher_budget
from tracking.service.api.execution_messages import event_proto, snapshot_proto
from tracking.service.api.log_messages import log_entries, stream_filter
from tracking.service.api.sizing import chunks_that_fit
from tracking.service.api.values import time_or_none
from tracking.service.domain.clock import utcnow
from tracking.service.domain.errors import InvalidArgument, ValidationCollector
from tracking.service.domain.log_filters import LineFilter, line_filter
from tracking.service.operations.streams import SharedEvent, StatusItem, Streams
from tracking.service.operations.streams import overflow_listener as overflow_listener
from tracking.v1 import tracking_service_pb2 as pb

# Statuses of streams closed because they fell behind, on their way to their readers.
_closing: set[asyncio.Future[None]] = set()


def close_when_behind(context: Context) -> None:
    """A gRPC stream whose watcher overflows ends at once, even while it waits for its
    reader to take a message: its status is queued (the reader gets what was sent, then
    RESOURCE_EXHAUSTED saying where to resume) and its handler is cancelled, which lets go
    of its watcher and of what it read. Server-sent events set a listener of their own."""
    if overflow_listener.get() is not None:
        return
    task = asyncio.current_task()
    if task is None:
        return

    def close(message: str) -> None:
        status = asyncio.ensure_future(_abort(context, message))
        _closing.add(status)
        status.add_done_callback(_closing.discard)
        task.cancel()

    overflow_listener.set(close)


async def _abort(context: Context, message: str) -> None:
    # AbortError once the status is sent; a call that already ended refuses a second one.
    with contextlib.suppress(Exception):
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)


def _heartbeat() -> pb.Heartbeat:
    heartbeat = pb.Heartbeat()
    heartbeat.time.FromDatetime(utcnow())
    return heartbeat


class StreamsApi:
    streams: Streams

    async def WatchStatus(
        self, request: pb.WatchStatusRequest, context: Context
    ) -> AsyncIterator[pb.WatchStatusResponse | bytes]:
        if request.execution_id and request.deployment_name:
            raise InvalidArgument.of(
                "deployment_name", "watch an execution or a deployment, not both"
            )
        close_when_behind(context)
        if request.execution_id:
            if request.resume_token:
                raise InvalidArgument.of(
                    "resume_token", "use after_revision to resume a watch of one execution"
                )
            items = self.streams.watch_execution(
                request.execution_id, request.after_revision, watcher_budget(context)
            )
        else:
            if request.after_revision:
                raise InvalidArgument.of(
                    "after_revision", "use resume_token to resume a watch of many executions"
                )
            items = self.streams.watch_many(
                request.deployment_name, request.resume_token, watcher_budget(context)
            )
        # A watch may wait for hours between items: nothing of the last one stays referenced.
        async for item in items:
            yield self._watch_response(item)
            del item

    @staticmethod
    def _watch_response(item: StatusItem | SharedEvent) -> bytes | pb.WatchStatusResponse:
        if isinstance(item, SharedEvent):
            # Serialized once; every watcher of this execution sends the same bytes.
            encoded = item.encoded.get("watch")
            if encoded is None:
                response = pb.WatchStatusResponse(event=event_proto(item.row))
                encoded = item.encoded["watch"] = response.SerializeToString()
            return encoded
        if item.event is not None:
            if item.encoded is None:
                return pb.WatchStatusResponse(event=event_proto(item.event, item.resume_token))
            # The watchers of a deployment at this event send the same bytes (the token
            # names the event and the deployment): serialized once.
            key = "watch " + item.resume_token
            encoded = item.encoded.get(key)
            if encoded is None:
                response = pb.WatchStatusResponse(event=event_proto(item.event, item.resume_token))
                encoded = item.encoded[key] = response.SerializeToString()
            return encoded
        if item.snapshot is not None:
            return pb.WatchStatusResponse(
                event=snapshot_proto(item.snapshot, utcnow(), item.resume_token)
            )
        return pb.WatchStatusResponse(heartbeat=_heartbeat())

    async def StreamLogs(
        self, request: pb.StreamLogsRequest, context: Context
    ) -> AsyncIterator[pb.StreamLogsResponse]:
        keep = _log_stream_filter(request)
        close_when_behind(context)
        responses = (
            self._deployment_logs(request, keep, watcher_budget(context))
            if request.deployment_name
            else self._execution_logs(request, keep, watcher_budget(context))
        )
        async for response in responses:
            yield response

    async def _execution_logs(
        self, request: pb.StreamLogsRequest, keep: LineFilter, caller: str
    ) -> AsyncIterator[pb.StreamLogsResponse]:
        lines = self.streams.follow_logs(
            request.execution_id,
            after_seq=request.after_seq,
            since=time_or_none(request.since, request.HasField("since"), "since"),
            tail=request.tail,
            stream=stream_filter(request.stream),
            follow=request.follow,
            keep=keep,
            principal=caller,
        )
        async for rows in lines:
            if rows is None:
                yield pb.StreamLogsResponse(heartbeat=_heartbeat())
                continue
            chunks = list(chunks_that_fit(log_entries(rows)))
            del rows
            while chunks:
                yield pb.StreamLogsResponse(entries=chunks.pop(0))

    async def _deployment_logs(
        self, request: pb.StreamLogsRequest, keep: LineFilter, caller: str
    ) -> AsyncIterator[pb.StreamLogsResponse]:
        batches = self.streams.follow_deployment_logs(
            request.deployment_name,
            since=time_or_none(request.since, request.HasField("since"), "since"),
            tail=request.tail,
            stream=stream_filter(request.stream),
            keep=keep,
            follow=request.follow,
            resume_token=request.resume_token,
            principal=caller,
        )
        async for batch in batches:
            if batch is None:
                yield pb.StreamLogsResponse(heartbeat=_heartbeat())
                continue
            # Each response carries the token that resumes right after its last line.
            entries = log_entries(batch.lines, with_execution_id=True)
            for chunk in chunks_that_fit(entries):
                yield pb.StreamLogsResponse(
                    entries=chunk, resume_token=batch.resume_token(chunk[-1].seq)
                )
            del batch


def _log_stream_filter(request: pb.StreamLogsRequest) -> LineFilter:
    """The filter a StreamLogs asks for, once its scope (one execution or a deployment) and
    its cursor fields were checked to go together."""
    errors = ValidationCollector()
    if request.execution_id and request.deployment_name:
        errors.add("deployment_name", "stream an execution or a deployment, not both")
    elif not request.execution_id and not request.deployment_name:
        errors.add("execution_id", "name an execution_id or a deployment_name")
    elif request.deployment_name and request.after_seq:
        errors.add("after_seq", "use resume_token to resume a stream of a deployment")
    elif request.execution_id and request.resume_token:
        errors.add("resume_token", "use after_seq to resume a stream of one execution")
    keep = line_filter(errors, request.contains, request.pattern)
    errors.raise_if_any()
    return keep
