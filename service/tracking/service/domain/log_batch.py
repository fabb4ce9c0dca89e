"""The lines of one AppendLogs, column by column."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LogBatch:
    """Each list holds one value per line, in the order the lines were sent. `timestamps`
    is None when no line gives its own time (each then takes the time of the append), else
    one entry per line (None: that line takes it)."""

    messages: list[str]
    streams: list[str]
    step_names: list[str]
    timestamps: list[datetime | None] | None = None

    def __len__(self) -> int:
        return len(self.messages)
