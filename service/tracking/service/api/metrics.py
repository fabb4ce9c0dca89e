"""Metric RPCs: log a batch of points, list the series, read a history, stream the points."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tracking.service.api.context import Context, watcher_budget
from tracking.service.api.metric_messages import (
    history_proto,
    metric_batch,
    point_protos,
    series_proto,
)
from tracking.service.api.sizing import chunks_that_fit
from tracking.service.domain.clock import utcnow
from tracking.service.operations.metrics import Metrics
from tracking.v1 import tracking_service_pb2 as pb


class MetricsApi:
    metrics: Metrics

    async def LogMetrics(
        self, request: pb.LogMetricsRequest, context: Context
    ) -> pb.LogMetricsResponse:
        batch = metric_batch(request.points)
        return pb.LogMetricsResponse(last_seq=await self.metrics.log(request.execution_id, batch))

    async def ListMetrics(
        self, request: pb.ListMetricsRequest, context: Context
    ) -> pb.ListMetricsResponse:
        listed = await self.metrics.series(request.execution_id)
        return pb.ListMetricsResponse(
            series=[series_proto(summary) for summary in listed.series],
            last_seq=listed.last_seq,
        )

    async def GetMetricHistory(
        self, request: pb.GetMetricHistoryRequest, context: Context
    ) -> pb.GetMetricHistoryResponse:
        page = await self.metrics.history(
            list(request.execution_ids),
            request.name,
            start_step=request.start_step if request.HasField("start_step") else None,
            end_step=request.end_step if request.HasField("end_step") else None,
            max_points=request.max_points,
            exact=request.exact,
            page_token=request.page_token,
        )
        return pb.GetMetricHistoryResponse(
            histories=[history_proto(history) for history in page.histories],
            next_page_token=page.next_token,
        )

    async def StreamMetrics(
        self, request: pb.StreamMetricsRequest, context: Context
    ) -> AsyncIterator[pb.StreamMetricsResponse]:
        batches = self.metrics.follow(
            request.execution_id,
            after_seq=request.after_seq,
            names=list(request.names),
            follow=request.follow,
            principal=watcher_budget(context),
        )
        async for points in batches:
            if points is None:
                heartbeat = pb.Heartbeat()
                heartbeat.time.FromDatetime(utcnow())
                yield pb.StreamMetricsResponse(heartbeat=heartbeat)
                continue
            chunks = list(chunks_that_fit(point_protos(points)))
            del points
            while chunks:
                yield pb.StreamMetricsResponse(points=chunks.pop(0))
