"""Cron schedules of PERIODIC deployments."""

from __future__ import annotations

from datetime import UTC, datetime

from cron_descriptor import get_description
from croniter import croniter


def is_valid(schedule: str) -> bool:
    return len(schedule.split()) == 5 and bool(croniter.is_valid(schedule))


def describe(schedule: str) -> str:
    return str(get_description(schedule))


def next_run(schedule: str, after: datetime) -> datetime:
    value = croniter(schedule, after.astimezone(UTC)).get_next(datetime)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)
