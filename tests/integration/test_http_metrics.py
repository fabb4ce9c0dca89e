"""The metric RPCs over HTTP: Connect JSON (NaN and Infinity as proto-JSON strings, values
that are not numbers refused naming the field) and StreamMetrics as server-sent events
whose ids resume it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.factories import unique
from tests.support.http import SERVICE, EventReader, call, violations
from tests.support.server import ServerThread


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.http_url, timeout=30) as client:
        yield client


def running(http: httpx.Client) -> str:
    body = call(http, "CreateExecution", {"execution": {"job_name": unique("job")}})
    execution_id = str(body["execution"]["executionId"])
    call(http, "UpdateJobStatus", {"execution_id": execution_id, "start": {}})
    return execution_id


def log(http: httpx.Client, execution_id: str, *points: dict[str, Any]) -> Any:
    return call(http, "LogMetrics", {"execution_id": execution_id, "points": list(points)})


def test_metrics_over_connect_json(http: httpx.Client) -> None:
    execution_id = running(http)
    assert log(
        http,
        execution_id,
        {"name": "loss", "value": 0.5},
        {"name": "loss", "value": "NaN"},
        {"name": "loss", "value": "Infinity", "step": "7"},
    ) == {"lastSeq": "3"}
    (series,) = call(http, "ListMetrics", {"execution_id": execution_id})["series"]
    assert (series["count"], series["lastStep"], series["lastValue"]) == ("3", "7", "Infinity")
    assert (series["minValue"], series["maxValue"]) == (0.5, "Infinity")
    (found,) = call(
        http,
        "GetMetricHistory",
        {"execution_ids": [execution_id], "name": "loss", "max_points": 10},
    )["histories"]
    assert [(p.get("step", "0"), p["value"]) for p in found["points"]] == [
        ("0", 0.5),
        ("1", "NaN"),
        ("7", "Infinity"),
    ]


@pytest.mark.parametrize(
    ("point", "field"),
    [
        ({"name": "loss", "value": "high"}, "points[1].value"),
        ({"name": "loss", "value": [1]}, "points[1].value"),
        ({"name": "loss", "value": {"v": 1}}, "points[1].value"),
        ({"name": "loss", "value": True}, "points[1].value"),  # not 1
        ({"name": "loss", "value": "1e400"}, "points[1].value"),  # not Infinity
        ({"name": "loss", "value": "inf"}, "points[1].value"),  # spelt "Infinity"
        ({"name": "loss", "value": 1, "step": "two"}, "points[1].step"),
        ({"name": "loss", "value": 1, "step": 1.5}, "points[1].step"),
        ({"name": "loss", "value": 1, "step": 2**63}, "points[1].step"),
        ({"name": "loss", "value": 1, "step": -1}, "points[1].step"),
        ({"name": "<b>x</b>\u0000", "value": 1}, "points[1].name"),
    ],
)
def test_a_point_that_is_not_a_point_is_invalid_argument(
    http: httpx.Client, point: dict[str, Any], field: str
) -> None:
    execution_id = running(http)
    good = {"name": "loss", "value": 1}
    response = http.post(
        SERVICE + "LogMetrics", json={"execution_id": execution_id, "points": [good, point]}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_argument"
    assert field in violations(response), violations(response)
    # Nothing of the batch is stored, not even its good point.
    listed = call(http, "ListMetrics", {"execution_id": execution_id})
    assert listed.get("series", []) == []


def test_a_raw_json_number_too_large_for_a_double_is_refused(http: httpx.Client) -> None:
    execution_id = running(http)
    body = f'{{"execution_id": "{execution_id}", "points": [{{"name": "x", "value": 1e400}}]}}'
    response = http.post(
        SERVICE + "LogMetrics", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert "points[0].value" in violations(response)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"executionIds": ["e1"], "name": "loss", "maxPoints": True}, "max_points"),
        ({"execution_ids": ["e1"], "name": "loss", "max_points": "ten"}, "max_points"),
        (
            {"execution_ids": ["e1"], "name": "loss", "max_points": 10, "startStep": [0]},
            "start_step",
        ),
    ],
)
def test_a_history_field_that_is_not_a_number_is_named(
    http: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = http.post(SERVICE + "GetMetricHistory", json=body)
    assert response.status_code == 400, response.text
    assert field in violations(response), violations(response)


def test_the_metric_stream_resumes_after_the_last_event_id(http: httpx.Client) -> None:
    execution_id = running(http)
    log(http, execution_id, {"name": "loss", "value": 1.0}, {"name": "acc", "value": 0.1})
    url = f"/events/StreamMetrics?execution_id={execution_id}&follow=true"
    with http.stream("GET", url) as stream:
        (first,) = EventReader(stream).take(1)
    assert first.id == "2"
    assert [p["name"] for p in first.data["points"]] == ["loss", "acc"]
    log(http, execution_id, {"name": "loss", "value": 0.5})
    log(http, execution_id, {"name": "loss", "value": 0.25})
    call(
        http,
        "UpdateJobStatus",
        {"execution_id": execution_id, "stop": {"cause": "RUNNING_STATUS_SUCCESS"}},
    )
    with http.stream("GET", url, headers={"last-event-id": first.id}) as stream:
        rest = EventReader(stream).rest()
    points = [(p["seq"], p["value"]) for e in rest if e.kind == "message" for p in e.data["points"]]
    assert points == [("3", 0.5), ("4", 0.25)]
    assert [e.id for e in rest if e.kind == "message"][-1] == "4"
    assert rest[-1].kind == "end"


def test_a_bad_metric_stream_cursor_is_refused(http: httpx.Client) -> None:
    execution_id = running(http)
    bad = http.get(
        f"/events/StreamMetrics?execution_id={execution_id}", headers={"last-event-id": "x"}
    )
    assert bad.status_code == 400
    assert "Last-Event-ID" in violations(bad)
    ahead = http.get(
        f"/events/StreamMetrics?execution_id={execution_id}", headers={"last-event-id": "9"}
    )
    assert ahead.status_code == 400
    assert "ahead of the execution's last seq" in violations(ahead)["after_seq"]
