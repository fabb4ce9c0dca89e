"""LogEntry messages <-> stored log lines."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from tracking.service.api.enum_names import enum_name, enum_number
from tracking.service.api.values import stamp, time_or_none
from tracking.service.store.models import LogLineRow
from tracking.v1 import execution_pb2


def log_line_fields(entry: execution_pb2.LogEntry, field: str) -> dict[str, Any]:
    stream = enum_name(execution_pb2.LogStream.DESCRIPTOR, entry.stream)
    return {
        "timestamp": time_or_none(
            entry.timestamp, entry.HasField("timestamp"), f"{field}.timestamp"
        ),
        "stream": "STDOUT" if stream == "UNSPECIFIED" else stream,
        "message": entry.message,
        "step_name": entry.step_name,
    }


def log_entry_proto(row: LogLineRow, with_execution_id: bool = False) -> execution_pb2.LogEntry:
    return execution_pb2.LogEntry(
        seq=row.seq,
        timestamp=stamp(row.timestamp),
        stream=enum_number(execution_pb2.LogStream.DESCRIPTOR, row.stream),
        message=row.message,
        step_name=row.step_name,
        execution_id=row.execution_id if with_execution_id else "",
    )


def stream_filter(stream: int) -> str | None:
    name = enum_name(execution_pb2.LogStream.DESCRIPTOR, stream)
    return None if name == "UNSPECIFIED" else name


def log_entries(
    rows: Iterable[LogLineRow], with_execution_id: bool = False
) -> Iterator[execution_pb2.LogEntry]:
    return (log_entry_proto(row, with_execution_id) for row in rows)
