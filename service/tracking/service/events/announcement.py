"""What a replica tells the others it committed, over PostgreSQL NOTIFY: the channel and the
payload. The store sends announcements inside the transaction that made the change (so one
is sent exactly when the change commits); events/postgres.py receives them."""

from __future__ import annotations

from dataclasses import dataclass

CHANNEL = "tracking_changes"


@dataclass(frozen=True)
class Announcement:
    """kind is "event", "logs" or "deployment_deleted" (execution_id then empty)."""

    replica_id: str
    kind: str
    execution_id: str
    deployment_name: str | None


def encode_announcement(announcement: Announcement) -> str:
    return "|".join(
        (
            announcement.replica_id,
            announcement.kind,
            announcement.execution_id,
            announcement.deployment_name or "",
        )
    )


def decode_announcement(payload: str) -> Announcement | None:
    """The announcement, or None for a payload this version does not know."""
    parts = payload.split("|")
    if len(parts) != 4:
        return None
    replica_id, kind, execution_id, deployment_name = parts
    return Announcement(replica_id, kind, execution_id, deployment_name or None)
