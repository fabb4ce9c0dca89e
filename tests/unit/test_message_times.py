"""Times put into messages as their fields (api/values.py) give what protobuf's own
conversions give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from tracking.service.api.values import span, stamp
from tracking.v1 import status_pb2

TIMES = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)
SPANS = st.timedeltas(min_value=timedelta(days=-3650), max_value=timedelta(days=3650))


@given(TIMES)
def test_a_time_is_the_timestamp_from_datetime_makes(value: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(value)
    assert status_pb2.JobStatus(create_time=stamp(value)).create_time == expected
    naive = value.replace(tzinfo=None)
    assert status_pb2.JobStatus(create_time=stamp(naive)).create_time == expected


@given(SPANS)
def test_a_span_is_the_duration_from_timedelta_makes(value: timedelta) -> None:
    expected = Duration()
    expected.FromTimedelta(value)
    made = status_pb2.JobStatus(duration=span(value)).duration
    assert made == expected
    assert made.ToTimedelta() == value


def test_no_time_leaves_the_field_unset() -> None:
    assert not status_pb2.JobStatus(create_time=stamp(None)).HasField("create_time")
