"""Times a platform measured (UpdateJobStatus times): the rules that keep them in order.

A report may replace create_time and start_time and give a duration, each only when
present, in any status. Afterwards start_time is not before create_time, and an ended
execution ends at start_time + the reported duration (when there is one). No reported time,
nor the end it implies, is more than MAX_CLOCK_AHEAD ahead of the server's clock; a time
the server takes from its own clock (a start, a stop) is never before the reported one it
follows, so the order holds even within that skew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tracking.service.domain.errors import ValidationCollector


@dataclass(frozen=True)
class JobTimes:
    create_time: datetime
    start_time: datetime | None
    end_time: datetime | None
    duration: timedelta | None  # as the platform reported it; None: never reported


# How far ahead of the server's clock a platform's clock may be.
MAX_CLOCK_AHEAD = timedelta(minutes=1)


def reported(
    stored: JobTimes,
    create_time: datetime | None,
    start_time: datetime | None,
    duration: timedelta | None,
    now: datetime | None = None,
) -> JobTimes:
    """The times after a report; INVALID_ARGUMENT naming the field when out of order (or,
    given `now`, more than MAX_CLOCK_AHEAD in the future)."""
    create = create_time or stored.create_time
    start = start_time or stored.start_time
    errors = ValidationCollector()
    if now is not None:
        for field, value in (("times.create_time", create_time), ("times.start_time", start_time)):
            if value is not None and value > now + MAX_CLOCK_AHEAD:
                errors.add(field, f"must not be in the future ({now.isoformat()}), got {value}")
    if duration is not None and duration < timedelta(0):
        errors.add("times.duration", f"must not be negative, got {duration.total_seconds()} s")
    elif start is not None and start < create:
        if start_time is not None:
            errors.add("times.start_time", _out_of_order(start, "before create_time", create))
        else:
            errors.add("times.create_time", _out_of_order(create, "after start_time", start))
    elif stored.end_time is not None and create > stored.end_time and start_time is None:
        errors.add("times.create_time", _out_of_order(create, "after end_time", stored.end_time))
    elif duration is not None and start is not None:
        # An end that no time can hold, or one in the future, is refused in any status.
        _not_ahead(errors, "times.duration", _end(errors, start, duration), now)
    errors.raise_if_any()
    duration = duration if duration is not None else stored.duration
    end = stored.end_time
    if end is not None and start is not None:
        if duration is not None:
            end = _end(errors, start, duration)
            _not_ahead(errors, "times.start_time", end, now)
        elif start > end:
            errors.add("times.start_time", _out_of_order(start, "after end_time", end))
    errors.raise_if_any()
    return JobTimes(create, start, end, duration)


def start_time(create_time: datetime, now: datetime) -> datetime:
    """When an execution starting now started: now, or its reported creation time when
    that is (by the platform's clock) a little ahead of now."""
    return max(now, create_time)


def end_time(start_time: datetime | None, duration: timedelta | None, now: datetime) -> datetime:
    """When an execution ending now ended: start_time + the duration its platform reported,
    when it reported one (so that end - start is the duration shown); otherwise now, or
    its start time when that is (by the platform's clock) a little ahead of now."""
    if start_time is None:
        return now
    if duration is None:
        return max(now, start_time)
    try:
        return start_time + duration
    except OverflowError:
        return max(now, start_time)


def _out_of_order(value: datetime, relation: str, other: datetime) -> str:
    return f"must not be {relation} ({other.isoformat()}), got {value.isoformat()}"


def _not_ahead(
    errors: ValidationCollector, field: str, value: datetime, now: datetime | None
) -> None:
    """An end past now + MAX_CLOCK_AHEAD is refused (unless the report is refused already)."""
    if now is not None and not errors.violations and value > now + MAX_CLOCK_AHEAD:
        errors.add(field, f"must not end in the future ({now.isoformat()}), ends at {value}")


def _end(errors: ValidationCollector, start: datetime, duration: timedelta) -> datetime:
    try:
        return start + duration
    except OverflowError:
        errors.add("times.duration", "start_time + duration is past the latest time there is")
        return start
