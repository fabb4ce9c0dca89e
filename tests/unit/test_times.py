"""The rules of reported times (domain/times.py), without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracking.service.domain import times
from tracking.service.domain.errors import InvalidArgument

T0 = datetime(2026, 3, 1, tzinfo=UTC)
S = timedelta(seconds=1)
ENDED = times.JobTimes(T0, T0 + 10 * S, T0 + 20 * S, None)


def fields(error: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in error.value.violations]


def test_only_the_times_given_change() -> None:
    assert times.reported(ENDED, None, None, None) == ENDED
    assert times.reported(ENDED, T0 - S, None, None) == times.JobTimes(
        T0 - S, T0 + 10 * S, T0 + 20 * S, None
    )


def test_an_ended_execution_ends_at_start_plus_duration() -> None:
    moved = times.reported(ENDED, None, T0 + 2 * S, 3 * S)
    assert moved == times.JobTimes(T0, T0 + 2 * S, T0 + 5 * S, 3 * S)
    # a reported duration stays: a later start moves the end with it
    assert times.reported(moved, None, T0 + 4 * S, None).end_time == T0 + 7 * S


def test_a_running_execution_has_no_end() -> None:
    running = times.JobTimes(T0, T0 + S, None, None)
    assert times.reported(running, None, None, 5 * S).end_time is None


@pytest.mark.parametrize(
    ("create", "start", "duration", "field"),
    [
        (T0 + 11 * S, None, None, "times.create_time"),
        (None, T0 - S, None, "times.start_time"),
        (T0 + 5 * S, T0 + 4 * S, None, "times.start_time"),
        (None, T0 + 21 * S, None, "times.start_time"),  # after the end, no duration to move it
        (None, None, -S, "times.duration"),
        (None, datetime.max.replace(tzinfo=UTC), S, "times.duration"),
        (T0 + 30 * S, None, None, "times.create_time"),  # after the end
    ],
)
def test_times_out_of_order_are_refused(
    create: datetime | None, start: datetime | None, duration: timedelta | None, field: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        times.reported(ENDED, create, start, duration)
    assert fields(caught) == [field]


def test_the_end_of_a_stop() -> None:
    now = T0 + 100 * S
    assert times.end_time(None, 5 * S, now) == now
    assert times.end_time(T0, None, now) == now
    assert times.end_time(T0, 5 * S, now) == T0 + 5 * S
    latest = datetime.max.replace(tzinfo=UTC)
    assert times.end_time(latest, S, now) == latest  # never before its start


def test_times_ahead_of_the_servers_clock_are_refused() -> None:
    running = times.JobTimes(T0, T0 + S, None, None)
    with pytest.raises(InvalidArgument) as caught:
        times.reported(running, None, T0 + timedelta(hours=2), None, now=T0)
    assert fields(caught) == ["times.start_time"]
    assert times.reported(running, None, T0 + timedelta(seconds=50), None, now=T0).start_time
    with pytest.raises(InvalidArgument) as caught:
        times.reported(running, None, T0 + timedelta(minutes=5), None, now=T0)
    assert fields(caught) == ["times.start_time"]


def test_a_duration_no_time_can_end_is_refused_while_running() -> None:
    running = times.JobTimes(T0, T0 + S, None, None)
    with pytest.raises(InvalidArgument) as caught:
        times.reported(running, None, None, timedelta(days=999_999_999))
    assert fields(caught) == ["times.duration"]


def test_an_end_ahead_of_the_servers_clock_is_refused() -> None:
    kept = times.JobTimes(T0, T0, T0 + 60 * S, 60 * S)  # ended, with a reported duration
    with pytest.raises(InvalidArgument) as caught:
        times.reported(kept, None, T0 + 600 * S, None, now=T0 + 590 * S)
    assert fields(caught) == ["times.start_time"]  # it moves the end 70 s past now
    with pytest.raises(InvalidArgument) as caught:
        times.reported(kept, None, None, timedelta(days=365 * 3000), now=T0)
    assert fields(caught) == ["times.duration"]
    assert times.reported(kept, None, T0 + 30 * S, None, now=T0 + 60 * S).end_time == T0 + 90 * S


def test_the_servers_own_times_follow_reported_ones_a_little_ahead() -> None:
    assert times.start_time(T0 + 30 * S, T0) == T0 + 30 * S
    assert times.start_time(T0 - 30 * S, T0) == T0
    assert times.end_time(T0 + 30 * S, None, T0) == T0 + 30 * S
