"""Cron schedules of PERIODIC deployments."""

from __future__ import annotations

from datetime import UTC, datetime

from cron_descriptor import get_description
from croniter import croniter


def is_valid(schedule: str) -> bool:
    """Five fields that parse and fire at least once (0 0 30 2 * parses but never fires)."""
    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        return False
    try:
        next_run(schedule, datetime.now(UTC))
        describe(schedule)
    except Exception:  # croniter and cron-descriptor raise many kinds for odd expressions
        return False
    return True


def describe(schedule: str) -> str:
    return str(get_description(schedule))


def next_run(schedule: str, after: datetime) -> datetime:
    value = croniter(schedule, after.astimezone(UTC)).get_next(datetime)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)
