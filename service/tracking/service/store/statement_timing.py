"""Each SQL statement's duration, handed to whoever measures it (the metrics)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


def time_statements(engines: Iterable[AsyncEngine], observe: Callable[[float], None]) -> None:
    """Call observe(seconds) after every statement the engines run."""
    for engine in set(engines):
        sync = engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def before(
            conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
        ) -> None:
            conn.info.setdefault("tracking_started", []).append(time.perf_counter())

        @event.listens_for(sync, "after_cursor_execute")
        def after(
            conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
        ) -> None:
            observe(time.perf_counter() - conn.info["tracking_started"].pop())
