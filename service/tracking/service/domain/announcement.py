"""What a replica tells the others it committed, over PostgreSQL NOTIFY: the channel and the
payload. The store sends announcements inside the transaction that made the change (so one
is sent exactly when the change commits); events/postgres.py receives them.

A payload is four fields joined by "|": replica id, kind, execution id, deployment name.
An "event" announcement carries its committed event in the kind field, as
`event:<JSON>`, so the replicas that receive it hand it to their watchers without reading
the table; one whose event would not fit in a NOTIFY goes as plain `event`, a wake-up. A
"logs" announcement carries the size of its lines (characters of messages) as
`logs:<size>`. A
replica that does not know the carried form still reads four fields and an unknown kind,
which it takes as a wake-up; a carried event this version cannot read is one too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracking.service.domain.events import ExecutionEvent

CHANNEL = "tracking_changes"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more (and the whole transaction
# with it); an event that would make a longer one goes as a wake-up.
MAX_PAYLOAD = 7500


@dataclass(frozen=True, eq=False)
class Announcement:
    """kind is "event", "logs", "metrics" or "deployment_deleted" (execution_id then empty). `event`
    is the committed event of an "event" announcement, when it is carried."""

    replica_id: str
    kind: str
    execution_id: str
    deployment_name: str | None
    event: ExecutionEvent | None = None
    size: int = 0


def encode_announcement(announcement: Announcement) -> str:
    """The payload; the event's id must be set (the event inserted) for it to be carried."""
    event = announcement.event
    kind = announcement.kind
    if event is not None and event.id is not None:
        carried = json.dumps(
            {
                "id": event.id,
                "revision": event.revision,
                "changes": event.changes,
                "create_time": event.create_time.isoformat(),
                "job_status": event.job_status,
            },
            separators=(",", ":"),
        )
        # ASCII only (json's default), so its length is its size in any server encoding;
        # "|" appears only inside strings, where JSON may write it as an escape.
        payload = _join(announcement, kind + ":" + carried.replace("|", "\\u007c"))
        if len(payload) <= MAX_PAYLOAD:
            return payload
    if kind == "logs" and announcement.size:
        return _join(announcement, f"logs:{announcement.size}")
    return _join(announcement, kind)


def _join(announcement: Announcement, kind: str) -> str:
    return "|".join(
        (
            announcement.replica_id,
            kind,
            announcement.execution_id,
            announcement.deployment_name or "",
        )
    )


def decode_announcement(payload: str) -> Announcement | None:
    """The announcement, or None for a payload that is not one. An event this version cannot
    read leaves an "event" announcement without it (a wake-up)."""
    parts = payload.split("|")
    if len(parts) != 4:
        return None
    replica_id, kind, execution_id, deployment_name = parts
    kind, _, carried = kind.partition(":")
    event = _event(carried, execution_id, deployment_name or None) if kind == "event" else None
    digits = kind == "logs" and carried.isascii() and carried.isdigit() and len(carried) < 19
    size = int(carried) if digits else 0
    return Announcement(replica_id, kind, execution_id, deployment_name or None, event, size)


def _event(carried: str, execution_id: str, deployment_name: str | None) -> ExecutionEvent | None:
    if not carried or not execution_id:
        return None
    try:
        fields: Any = json.loads(carried)
        event_id, revision, changes, job_status, create_time = (
            fields[name] for name in ("id", "revision", "changes", "job_status", "create_time")
        )
        create_time = datetime.fromisoformat(create_time)
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    if not (
        isinstance(event_id, int)
        and isinstance(revision, int)
        and isinstance(changes, str)
        and isinstance(job_status, dict)
        and create_time.tzinfo is not None
    ):
        return None
    return ExecutionEvent(
        id=event_id,
        execution_id=execution_id,
        deployment_name=deployment_name,
        revision=revision,
        changes=changes,
        job_status=job_status,
        create_time=create_time,
    )
