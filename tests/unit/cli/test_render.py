"""How the command line shows times and enum values to people."""

from __future__ import annotations

import datetime as dt

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tracking.cli.render import SHORT_NAMES, age, run_time, span
from tracking.v1 import status_pb2


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (42.9, "42s"),
        (310, "5m10s"),
        (600, "10m"),
        (1859, "30m"),
        (11_040, "3h4m"),
        (36_000 + 120, "10h"),
        (2 * 86_400 + 5 * 3600, "2d5h"),
        (12 * 86_400 + 3600, "12d"),
    ],
)
def test_a_span_reads_at_a_glance(seconds: float, shown: str) -> None:
    assert span(seconds) == shown


def test_age_and_run_time() -> None:
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    created = Timestamp()
    created.FromDatetime(now - dt.timedelta(minutes=5, seconds=10))
    assert age(created, now) == "5m10s"
    assert age(Timestamp(), now) == "-"
    waiting = status_pb2.JobStatus()
    assert run_time(waiting) == "-"
    ran = status_pb2.JobStatus()
    ran.start_time.FromDatetime(now)
    ran.duration.FromSeconds(95)
    assert run_time(ran) == "1m35s"


def test_enum_values_have_the_short_names_lists_show() -> None:
    assert SHORT_NAMES["RUNNING_STATUS_CANCELED"] == "CANCELED"
    assert SHORT_NAMES["EXECUTION_RULE_PERIODIC"] == "PERIODIC"
    assert SHORT_NAMES["JOB_TYPE_UNSPECIFIED"] == "-"  # unset
