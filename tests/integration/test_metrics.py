"""LogMetrics, ListMetrics, GetMetricHistory and StreamMetrics: numbering, implied steps,
summaries, bucketing that keeps spikes, exact pages, replay then follow, bad input."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import text

from tests.conftest import ServerFactory
from tests.support.factories import create_execution, start, stop, violations
from tests.support.server import ServerThread
from tracking.service.domain.metrics import Buckets
from tracking.service.store import metrics as metric_store
from tracking.v1 import metric_pb2 as mpb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def point(name: str, value: float, step: int | None = None, **fields: object) -> mpb.MetricPoint:
    found = mpb.MetricPoint(name=name, value=value, **fields)  # type: ignore[arg-type]
    if step is not None:
        found.step = step
    return found


def log(stub: TrackingServiceStub, execution_id: str, *points: mpb.MetricPoint) -> int:
    request = pb.LogMetricsRequest(execution_id=execution_id, points=points)
    return stub.LogMetrics(request).last_seq


def running(stub: TrackingServiceStub) -> str:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    return execution_id


def history(
    stub: TrackingServiceStub, execution_ids: list[str], name: str, **fields: object
) -> pb.GetMetricHistoryResponse:
    request = pb.GetMetricHistoryRequest(execution_ids=execution_ids, name=name, **fields)  # type: ignore[arg-type]
    return stub.GetMetricHistory(request)


def test_points_are_numbered_and_steps_follow_their_series(stub: TrackingServiceStub) -> None:
    execution_id = running(stub)
    assert log(stub, execution_id, point("loss", 0.9), point("loss", 0.7), point("acc", 0.1)) == 3
    assert log(stub, execution_id, point("loss", 0.5, step=10), point("loss", 0.4)) == 5
    (found,) = history(stub, [execution_id], "loss", max_points=100).histories
    assert [(p.seq, p.step, p.value) for p in found.points] == [
        (1, 0, 0.9),
        (2, 1, 0.7),
        (4, 10, 0.5),
        (5, 11, 0.4),
    ]
    assert found.count == 4
    assert found.through_seq == 5
    assert not found.buckets
    assert all(p.time.seconds > 0 for p in found.points)


def test_a_step_may_go_backwards_and_both_points_are_kept(stub: TrackingServiceStub) -> None:
    """A run resumed from a checkpoint logs its steps again: allowed, as the contract says."""
    execution_id = running(stub)
    log(stub, execution_id, *[point("loss", 1.0 - step / 10, step=step) for step in range(5)])
    assert log(stub, execution_id, point("loss", 0.75, step=3), point("loss", 0.65)) == 7
    (found,) = history(stub, [execution_id], "loss", max_points=100).histories
    assert [(p.step, p.value, p.seq) for p in found.points] == [
        (0, 1.0, 1),
        (1, 0.9, 2),
        (2, 0.8, 3),
        (3, 0.7, 4),
        (3, 0.75, 6),
        (4, 0.6, 5),
        (5, 0.65, 7),  # an omitted step follows the largest, not the last sent
    ]
    (series,) = stub.ListMetrics(pb.ListMetricsRequest(execution_id=execution_id)).series
    assert (series.count, series.first_step, series.last_step) == (7, 0, 5)


def test_list_metrics_summarizes_each_series(stub: TrackingServiceStub) -> None:
    execution_id = running(stub)
    when = Timestamp()
    when.FromDatetime(datetime(2026, 3, 1, tzinfo=UTC))
    log(
        stub,
        execution_id,
        point("loss", 3.0, step=0),
        point("loss", 9.0, step=1),
        point("loss", 2.0, step=2, time=when),
        point("acc", 0.5, step=4),
    )
    listed = stub.ListMetrics(pb.ListMetricsRequest(execution_id=execution_id))
    assert listed.last_seq == 4
    acc, loss = listed.series
    assert (acc.name, acc.count, acc.last_value) == ("acc", 1, 0.5)
    assert (loss.name, loss.count, loss.first_step, loss.last_step) == ("loss", 3, 0, 2)
    assert (loss.min_value, loss.max_value, loss.last_value) == (2.0, 9.0, 2.0)
    assert loss.last_time.ToDatetime(tzinfo=UTC) == datetime(2026, 3, 1, tzinfo=UTC)


def test_nan_and_infinity_are_kept_and_nan_is_skipped_by_min_and_max(
    stub: TrackingServiceStub,
) -> None:
    execution_id = running(stub)
    log(
        stub,
        execution_id,
        point("x", 1.0),
        point("x", math.nan),
        point("x", math.inf),
        point("x", -math.inf),
    )
    (found,) = history(stub, [execution_id], "x", max_points=10).histories
    values = [p.value for p in found.points]
    assert values[0] == 1.0
    assert math.isnan(values[1])
    assert values[2:] == [math.inf, -math.inf]
    (two,) = history(stub, [execution_id], "x", max_points=2).histories
    first, second = two.buckets
    assert (first.min_value, first.max_value, first.count) == (1.0, 1.0, 2)
    assert math.isnan(first.last_value)
    assert (second.min_value, second.max_value, second.last_value) == (
        -math.inf,
        math.inf,
        -math.inf,
    )


def test_history_buckets_keep_a_single_spike_visible(stub: TrackingServiceStub) -> None:
    execution_id = running(stub)
    for batch in range(10):
        log(
            stub,
            execution_id,
            *[
                point("loss", 1000.0 if batch * 1000 + i == 4321 else 1.0 + (i % 7) / 100)
                for i in range(1000)
            ],
        )
    (found,) = history(stub, [execution_id], "loss", max_points=100).histories
    assert found.count == 10_000
    assert found.bucket_width == 100
    assert not found.points
    assert len(found.buckets) == 100
    assert sum(b.count for b in found.buckets) == 10_000
    # Wide buckets come from rollups of 16 steps: a bucket may reach a little past its width.
    (spiked,) = [b for b in found.buckets if b.max_value == 1000.0]
    assert spiked.first_step <= 4321 <= spiked.last_step
    assert spiked.last_step - spiked.first_step < 100 + 16
    assert all(b.min_value >= 1.0 for b in found.buckets)
    # Zoomed in on a range: the buckets are recomputed over it.
    (zoomed,) = history(
        stub, [execution_id], "loss", start_step=4300, end_step=4339, max_points=20
    ).histories
    assert zoomed.bucket_width == 2
    assert len(zoomed.buckets) == 20
    assert [b.first_step for b in zoomed.buckets if b.max_value == 1000.0] == [4320]
    # The last value of a bucket is the value at its last step.
    (exact,) = history(
        stub, [execution_id], "loss", start_step=4338, end_step=4339, max_points=2
    ).histories
    assert zoomed.buckets[-1].last_value == exact.points[-1].value


def _truth(
    points: list[tuple[int, int, float]], first: int, last: int
) -> tuple[int, float, float, float]:
    """(count, min, max, last value) of the (seq, step, value) points with steps first..last."""
    inside = [(step, seq, value) for seq, step, value in points if first <= step <= last]
    values = [value for _, _, value in inside if not math.isnan(value)]
    return len(inside), min(values), max(values), max(inside)[2]


def test_rolled_up_buckets_match_the_points(stub: TrackingServiceStub) -> None:
    execution_id = running(stub)
    generator = random.Random(7)
    points: list[tuple[int, int, float]] = []
    steps = [*range(0, 3000), *range(1500, 1600), *range(3000, 5003)]  # a resumed run
    for first in range(0, len(steps), 1000):
        batch = steps[first : first + 1000]
        values = [
            generator.uniform(-5, 5) if generator.random() > 0.01 else math.nan for _ in batch
        ]
        last = log(
            stub, execution_id, *[point("x", v, step=s) for s, v in zip(batch, values, strict=True)]
        )
        points += [
            (last - len(batch) + 1 + i, s, v)
            for i, (s, v) in enumerate(zip(batch, values, strict=True))
        ]
    for request in ({}, {"start_step": 1234, "end_step": 4321}):
        (found,) = history(stub, [execution_id], "x", max_points=50, **request).histories
        assert found.bucket_width >= 16
        assert 0 < len(found.buckets) <= 50
        assert found.count == sum(b.count for b in found.buckets)
        for before, after in itertools.pairwise(found.buckets):
            assert before.last_step < after.first_step
        for bucket in found.buckets:
            count, low, high, final = _truth(points, bucket.first_step, bucket.last_step)
            assert (bucket.count, bucket.min_value, bucket.max_value) == (count, low, high)
            assert bucket.last_value == final or (
                math.isnan(final) and math.isnan(bucket.last_value)
            )


async def _rolled_through(server: ServerThread, execution_id: str, through: int) -> list[Any]:
    assert server.app is not None
    async with server.app.database.reading() as session:
        return await metric_store.rolled_buckets(
            session, execution_id, "x", 0, 99, through, Buckets(0, 64)
        )


def test_rollups_holding_later_points_are_read_from_the_points(
    stub: TrackingServiceStub, server: ServerThread
) -> None:
    execution_id = running(stub)
    log(stub, execution_id, *[point("x", 1.0, step=s) for s in range(100)])
    log(stub, execution_id, point("x", 50.0, step=10), point("x", -50.0, step=90))
    now = server.run(_rolled_through(server, execution_id, 102))
    assert [(b.count, b.min_value, b.max_value) for b in now] == [(65, 1.0, 50.0), (37, -50.0, 1.0)]
    before = server.run(_rolled_through(server, execution_id, 100))
    assert [(b.count, b.min_value, b.max_value) for b in before] == [(64, 1.0, 1.0), (36, 1.0, 1.0)]


def test_exact_points_come_a_page_at_a_time(stub: TrackingServiceStub) -> None:
    first, second = running(stub), running(stub)
    log(stub, first, *[point("loss", float(i)) for i in range(25)])
    log(stub, second, *[point("loss", float(-i)) for i in range(12)])
    seen: dict[str, list[int]] = {first: [], second: []}
    token = ""
    pages = 0
    while True:
        page = history(stub, [first, second], "loss", max_points=10, exact=True, page_token=token)
        for found in page.histories:
            assert not found.buckets
            seen[found.execution_id] += [p.step for p in found.points]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert seen == {first: list(range(25)), second: list(range(12))}


def test_history_compares_executions_in_the_order_asked(stub: TrackingServiceStub) -> None:
    first, second = running(stub), running(stub)
    log(stub, first, point("acc", 0.1), point("acc", 0.2))
    log(stub, second, point("acc", 0.3))
    found = history(stub, [second, first], "acc", max_points=5).histories
    assert [(h.execution_id, [p.value for p in h.points]) for h in found] == [
        (second, [0.3]),
        (first, [0.1, 0.2]),
    ]


def responses(call: Iterator[pb.StreamMetricsResponse]) -> list[tuple[int, str, float]]:
    return [(p.seq, p.name, p.value) for r in call for p in r.points]


def test_stream_replays_then_follows_until_the_end(stub: TrackingServiceStub) -> None:
    execution_id = running(stub)
    log(stub, execution_id, point("loss", 1.0), point("acc", 0.5))
    call = stub.StreamMetrics(
        pb.StreamMetricsRequest(execution_id=execution_id, follow=True), timeout=30
    )
    assert [(p.seq, p.name) for p in next(call).points] == [(1, "loss"), (2, "acc")]
    log(stub, execution_id, point("loss", 0.8))
    log(stub, execution_id, point("loss", 0.6), point("acc", 0.7))
    stop(stub, execution_id)
    assert responses(call) == [(3, "loss", 0.8), (4, "loss", 0.6), (5, "acc", 0.7)]
    # Resumed from a cursor, with a filter: exactly the rest.
    resumed = stub.StreamMetrics(
        pb.StreamMetricsRequest(execution_id=execution_id, after_seq=3, names=["loss"]),
        timeout=30,
    )
    assert responses(resumed) == [(4, "loss", 0.6)]


def test_metrics_are_refused_once_the_execution_ended(stub: TrackingServiceStub) -> None:
    execution_id = running(stub)
    stop(stub, execution_id)
    with pytest.raises(grpc.RpcError) as refused:
        log(stub, execution_id, point("loss", 1.0))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"execution {execution_id!r} ended" in (refused.value.details() or "")
    listed = stub.ListMetrics(pb.ListMetricsRequest(execution_id=execution_id))
    assert (listed.last_seq, list(listed.series)) == (0, [])


def test_a_batch_over_the_message_limit_is_resource_exhausted_and_stores_nothing(
    stub: TrackingServiceStub,
) -> None:
    execution_id = running(stub)
    # 1,000 points (the batch limit) whose names alone make 5 MB: over the 4 MB a message may be.
    points = [point(f"{i:04}" + "x" * 5000, 1.0) for i in range(1000)]
    with pytest.raises(grpc.RpcError) as refused:
        log(stub, execution_id, *points)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    listed = stub.ListMetrics(pb.ListMetricsRequest(execution_id=execution_id))
    assert (listed.last_seq, list(listed.series)) == (0, [])


def test_metrics_of_a_missing_execution_are_not_found(stub: TrackingServiceStub) -> None:
    missing = "exec-missing-metrics"
    for call in (
        lambda: log(stub, missing, point("loss", 1.0)),
        lambda: stub.ListMetrics(pb.ListMetricsRequest(execution_id=missing)),
        lambda: history(stub, [missing], "loss", max_points=10),
        lambda: list(stub.StreamMetrics(pb.StreamMetricsRequest(execution_id=missing))),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            call()
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def _stored_points(server: ServerThread, execution_id: str) -> int:
    assert server.app is not None
    async with server.app.database.read_engine.connect() as connection:
        query = text("SELECT count(*) FROM metric_points WHERE execution_id = :e")
        return int((await connection.execute(query, {"e": execution_id})).scalar_one())


def test_deleting_the_execution_deletes_its_points(
    stub: TrackingServiceStub, server: ServerThread
) -> None:
    execution_id = running(stub)
    log(stub, execution_id, point("loss", 1.0), point("loss", 2.0))
    assert server.run(_stored_points(server, execution_id)) == 2
    stub.DeleteExecution(pb.DeleteExecutionRequest(execution_id=execution_id))
    assert server.run(_stored_points(server, execution_id)) == 0
    with pytest.raises(grpc.RpcError) as refused:
        stub.ListMetrics(pb.ListMetricsRequest(execution_id=execution_id))
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


def test_retention_removes_points_and_a_cursor_into_them_is_refused(
    make_server: ServerFactory,
) -> None:
    server = make_server(retention_seconds=3600)
    assert server.app is not None
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = running(stub)
        log(stub, execution_id, point("loss", 1.0), point("loss", 0.5))
        stop(stub, execution_id)
        later = datetime.now(UTC) + timedelta(hours=2)
        assert server.run(server.app.retention.sweep(now=later)).points == 2
        assert server.run(_stored_points(server, execution_id)) == 0
        listed = stub.ListMetrics(pb.ListMetricsRequest(execution_id=execution_id))
        assert (listed.last_seq, list(listed.series)) == (2, [])
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.StreamMetrics(pb.StreamMetricsRequest(execution_id=execution_id)))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "removed by retention" in (refused.value.details() or "")
        # From the last cursor there is nothing missing: the stream simply ends.
        resumed = stub.StreamMetrics(
            pb.StreamMetricsRequest(execution_id=execution_id, after_seq=2)
        )
        assert responses(resumed) == []


BAD_POINTS = [
    ([point("", 1.0)], "points[0].name"),
    ([point("ok", 1.0), point("x" * 201, 1.0)], "points[1].name"),
    ([point("line\nbreak", 1.0)], "points[0].name"),
    ([point("zero\u200bwidth", 1.0)], "points[0].name"),
    ([point(" padded", 1.0)], "points[0].name"),
    ([point("loss", 1.0, step=-1)], "points[0].step"),
    ([point("loss", 1.0, time=Timestamp(seconds=-(10**13)))], "points[0].time"),
    ([], "points"),
    ([point("loss", float(i)) for i in range(1001)], "points"),
]


@pytest.mark.parametrize(("points", "field"), BAD_POINTS)
def test_bad_points_are_invalid_argument_and_store_nothing(
    stub: TrackingServiceStub, points: list[mpb.MetricPoint], field: str
) -> None:
    execution_id = running(stub)
    with pytest.raises(grpc.RpcError) as refused:
        log(stub, execution_id, *points)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(refused.value)
    listed = stub.ListMetrics(pb.ListMetricsRequest(execution_id=execution_id))
    assert (listed.last_seq, list(listed.series)) == (0, [])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"execution_ids": [], "name": "loss", "max_points": 10}, "execution_ids"),
        (
            {"execution_ids": [f"e{i}" for i in range(11)], "name": "x", "max_points": 1},
            "execution_ids",
        ),
        ({"execution_ids": ["e1", "e1"], "name": "loss", "max_points": 10}, "execution_ids[1]"),
        ({"execution_ids": ["e1"], "name": "", "max_points": 10}, "name"),
        ({"execution_ids": ["e1"], "name": "loss", "max_points": 0}, "max_points"),
        ({"execution_ids": ["e1"], "name": "loss", "max_points": 10_001}, "max_points"),
        ({"execution_ids": ["e1", "e2", "e3"], "name": "loss", "max_points": 10_000}, "max_points"),
        (
            {
                "execution_ids": ["e1"],
                "name": "loss",
                "max_points": 5,
                "start_step": 5,
                "end_step": 4,
            },
            "end_step",
        ),
        (
            {"execution_ids": ["e1"], "name": "loss", "max_points": 5, "start_step": -1},
            "start_step",
        ),
        (
            {"execution_ids": ["e1"], "name": "loss", "max_points": 5, "page_token": "x"},
            "page_token",
        ),
        (
            {
                "execution_ids": ["e1"],
                "name": "loss",
                "max_points": 5,
                "exact": True,
                "page_token": "x",
            },
            "page_token",
        ),
    ],
)
def test_bad_history_is_invalid_argument_naming_the_field(
    stub: TrackingServiceStub, fields: dict[str, object], field: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetMetricHistory(pb.GetMetricHistoryRequest(**fields))  # type: ignore[arg-type]
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(refused.value)


def test_a_page_token_of_another_query_is_refused(stub: TrackingServiceStub) -> None:
    execution_id = running(stub)
    log(stub, execution_id, *[point("loss", float(i)) for i in range(5)])
    token = history(stub, [execution_id], "loss", max_points=2, exact=True).next_page_token
    assert token
    with pytest.raises(grpc.RpcError) as refused:
        history(stub, [execution_id], "acc", max_points=2, exact=True, page_token=token)
    assert "page_token" in violations(refused.value)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"after_seq": -1}, "after_seq"),
        ({"after_seq": 99}, "after_seq"),
        ({"names": ["ok", "bad\tname"]}, "names[1]"),
    ],
)
def test_bad_stream_is_invalid_argument_naming_the_field(
    stub: TrackingServiceStub, fields: dict[str, object], field: str
) -> None:
    execution_id = running(stub)
    with pytest.raises(grpc.RpcError) as refused:
        list(
            stub.StreamMetrics(
                pb.StreamMetricsRequest(execution_id=execution_id, **fields),  # type: ignore[arg-type]
                timeout=30,
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(refused.value)
