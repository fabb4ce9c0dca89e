"""The kinds of change an execution's event records (ExecutionEvent.changes)."""

from __future__ import annotations

from enum import StrEnum


class Change(StrEnum):
    CREATED = "CREATED"
    STATUS = "STATUS"
    PROGRESS = "PROGRESS"
    CANCEL_REQUEST = "CANCEL_REQUEST"
    OUTPUTS = "OUTPUTS"
    STEP = "STEP"
    TIMES = "TIMES"
    DELETED = "DELETED"


def stored(changes: list[Change]) -> str:
    """The changes as an event row keeps them (comma-separated, in order)."""
    return ",".join(changes)


def of_stored(text: str) -> list[Change]:
    """What `stored` kept."""
    return [Change(name) for name in text.split(",") if name]
