"""LogEntry messages <-> stored log lines."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from tracking.service.api.enum_names import enum_name, enum_number
from tracking.service.api.values import stamp, time_or_none
from tracking.service.domain.log_batch import LogBatch
from tracking.service.store.models import LogLineRow
from tracking.v1 import execution_pb2

# Wire number -> stored name; an unset stream is STDOUT. Requests holding numbers the
# contract does not define never reach a handler (api/registration.py).
_STREAM_NAMES = {
    value.number: "STDOUT"
    if value.number == 0
    else enum_name(execution_pb2.LogStream.DESCRIPTOR, value.number)
    for value in execution_pb2.LogStream.DESCRIPTOR.values
}


def log_batch(entries: Sequence[execution_pb2.LogEntry]) -> LogBatch:
    """The entries of an AppendLogs as columns: one pass per field, no object per line."""
    names = _STREAM_NAMES
    timestamps: list[datetime | None] | None = None
    stamped = [index for index, entry in enumerate(entries) if entry.HasField("timestamp")]
    if stamped:
        timestamps = [None] * len(entries)
        for index in stamped:
            timestamps[index] = time_or_none(
                entries[index].timestamp, True, f"entries[{index}].timestamp"
            )
    return LogBatch(
        messages=[entry.message for entry in entries],
        streams=[names[entry.stream] for entry in entries],
        step_names=[entry.step_name for entry in entries],
        timestamps=timestamps,
    )


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
