"""Metric messages <-> metric batches and stored points."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from tracking.service.api.values import stamp, time_or_none
from tracking.service.domain.metrics import MetricBatch, shown_value
from tracking.service.operations.metrics import History
from tracking.service.store.metrics import SeriesSummary, StoredPoint
from tracking.v1 import metric_pb2


def metric_batch(points: Sequence[metric_pb2.MetricPoint]) -> MetricBatch:
    """The points of a LogMetrics as columns, one pass per field; NaN becomes None (stored
    as NULL)."""
    values = [point.value for point in points]
    times: list[datetime | None] = [None] * len(points)
    for index, point in enumerate(points):
        if point.HasField("time"):
            times[index] = time_or_none(point.time, True, f"points[{index}].time")
    return MetricBatch(
        names=[point.name for point in points],
        values=[None if value != value else value for value in values],  # NaN != NaN
        steps=[point.step if point.HasField("step") else None for point in points],
        times=times,
    )


def point_proto(point: StoredPoint, *, named: bool = True) -> metric_pb2.MetricPoint:
    return metric_pb2.MetricPoint(
        name=point.name if named else "",
        value=shown_value(point.value),
        step=point.step,
        time=stamp(point.time),
        seq=point.seq,
    )


def point_protos(points: Iterable[StoredPoint]) -> list[metric_pb2.MetricPoint]:
    return [point_proto(point) for point in points]


def series_proto(summary: SeriesSummary) -> metric_pb2.MetricSeries:
    return metric_pb2.MetricSeries(
        name=summary.name,
        count=summary.count,
        first_step=summary.first_step,
        last_step=summary.last_step,
        last_value=shown_value(summary.last_value),
        min_value=shown_value(summary.min_value),
        max_value=shown_value(summary.max_value),
        last_time=stamp(summary.last_time),
    )


def history_proto(history: History) -> metric_pb2.MetricHistory:
    found = metric_pb2.MetricHistory(
        execution_id=history.execution_id,
        # The request names the series: its points leave the name out.
        points=[point_proto(point, named=False) for point in history.points],
        count=history.count,
        bucket_width=history.bucket_width,
        through_seq=history.through_seq,
    )
    # Made in place: a list of made messages would be copied into the field one by one.
    add = found.buckets.add
    for bucket in history.buckets:
        add(
            first_step=bucket.first_step,
            last_step=bucket.last_step,
            min_value=shown_value(bucket.min_value),
            max_value=shown_value(bucket.max_value),
            last_value=shown_value(bucket.last_value),
            count=bucket.count,
            last_time=stamp(bucket.last_time),
        )
    return found
