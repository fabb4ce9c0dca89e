"""Log RPCs: append a batch, read a range."""

from __future__ import annotations

from tracking.service.api.context import Context
from tracking.service.api.log_messages import log_batch, log_entries, stream_filter
from tracking.service.api.sizing import chunks_that_fit
from tracking.service.api.values import time_or_none
from tracking.service.operations.logs import Logs
from tracking.v1 import tracking_service_pb2 as pb


class LogsApi:
    logs: Logs

    async def AppendLogs(
        self, request: pb.AppendLogsRequest, context: Context
    ) -> pb.AppendLogsResponse:
        batch = log_batch(request.entries)
        return pb.AppendLogsResponse(last_seq=await self.logs.append(request.execution_id, batch))

    async def GetExecutionLogs(
        self, request: pb.GetExecutionLogsRequest, context: Context
    ) -> pb.GetExecutionLogsResponse:
        page = await self.logs.read(
            request.execution_id,
            from_time=time_or_none(request.from_time, request.HasField("from_time"), "from_time"),
            to_time=time_or_none(request.to_time, request.HasField("to_time"), "to_time"),
            limit=request.limit,
            stream=stream_filter(request.stream),
            after_seq=request.after_seq,
            contains=request.contains,
            pattern=request.pattern,
        )
        # Oldest first, cut where the response would grow too large: read on with after_seq.
        entries = next(chunks_that_fit(log_entries(page.lines)))
        cut = len(entries) < len(page.lines)
        return pb.GetExecutionLogsResponse(
            entries=entries,
            truncated=page.more or cut,
            scanned_to_seq=0 if cut or not page.scanned_to else page.scanned_to,
        )
