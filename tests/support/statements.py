"""Counting the statements a server runs, to show what a change costs its database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event


@contextmanager
def counted_reads(engine: Any, table: str) -> Iterator[list[str]]:
    """The SELECTs from `table` the engine runs meanwhile (writes and other tables left out)."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statement = str(args[2])
        if statement.lstrip().startswith("SELECT") and f"FROM {table}" in statement:
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
