"""What the facades share: conversions of timestamps, enum names, JSON values; log reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from tracking.v1 import execution_pb2, status_pb2

from ..convert import from_struct, from_value
from ..sync_client import TrackingClient


def is_set(ts: timestamp_pb2.Timestamp) -> bool:
    """Whether a Timestamp holds a time (the zero Timestamp stands for "unset")."""
    return ts.seconds != 0 or ts.nanos != 0


def iso(ts: timestamp_pb2.Timestamp) -> str | None:
    """ISO 8601 in UTC ("2026-01-01T12:00:00+00:00"), or None when unset."""
    return ts.ToDatetime(tzinfo=dt.UTC).isoformat() if is_set(ts) else None


def epoch(ts: timestamp_pb2.Timestamp) -> float | None:
    """Seconds since the epoch, or None when unset."""
    return ts.seconds + ts.nanos / 1e9 if is_set(ts) else None


def short_name(enum_type: EnumTypeWrapper, value: int) -> str:
    """The value's name without the enum prefix, lowercase: RUNNING_STATUS_SUCCESS -> success."""
    prefix = _prefix(enum_type.DESCRIPTOR.name)
    return enum_type.Name(value).removeprefix(prefix).lower()


def status_name(value: int) -> str:
    """RunningStatus name without prefix, uppercase: RUNNING_STATUS_SUCCESS -> SUCCESS."""
    return short_name(status_pb2.RunningStatus, value).upper()


def struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as a plain dict, whole numbers as int."""
    return from_struct(struct)


def json_value(value: struct_pb2.Value, present: bool) -> Any:
    """A Value as a plain JSON value, whole numbers as int (None when unset)."""
    return from_value(value) if present else None


def _prefix(enum_name: str) -> str:
    out = "".join("_" + c if c.isupper() and i else c for i, c in enumerate(enum_name))
    return out.upper() + "_"


def none_if_empty(text: str) -> str | None:
    return text or None


def all_log_entries(
    client: TrackingClient,
    execution_id: str,
    *,
    from_time: dt.datetime | None = None,
    to_time: dt.datetime | None = None,
    limit: int | None = None,
) -> list[execution_pb2.LogEntry]:
    """Every stored line (the first `limit` when given), oldest first.

    One GetExecutionLogs stops at the server's cap of lines or bytes per response, below
    `limit` too: read on after the last seq received until a read returns nothing.
    """
    entries: list[execution_pb2.LogEntry] = []
    while limit is None or len(entries) < limit:
        page = client.get_execution_logs(
            execution_id,
            from_time=from_time,
            to_time=to_time,
            limit=0 if limit is None else limit - len(entries),
            after_seq=entries[-1].seq if entries else 0,
        )
        if not page:
            break
        entries.extend(page)
    return entries
