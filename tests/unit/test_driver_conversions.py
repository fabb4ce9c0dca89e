"""The driver's own conversions give what the column types' processors give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg

from tracking.service.store import driver
from tracking.service.store.types import JsonDocument, UtcDateTime

DIALECT = sqlite.dialect()
TIMES = [
    datetime(2026, 12, 7, 11, 54, 5, 310713, tzinfo=UTC),
    datetime(2026, 12, 7, 11, 54, 5, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2020, 1, 1, 5),  # naive: taken as UTC
    datetime(2020, 1, 1, 5, tzinfo=timezone(timedelta(hours=3))),
]


@pytest.mark.parametrize("value", TIMES, ids=str)
def test_a_time_is_bound_and_read_as_the_column_type_does(value: datetime) -> None:
    impl = UtcDateTime().dialect_impl(DIALECT)
    bind = impl.bind_processor(DIALECT)
    result = impl.result_processor(DIALECT, None)
    assert bind is not None
    assert result is not None
    stored = bind(value)
    assert driver._sqlite_time(value) == stored
    assert driver._sqlite_time_of(stored) == result(stored)
    assert driver._sqlite_time_of("2026-12-07 11:54:05") == result("2026-12-07 11:54:05")
    assert driver._sqlite_time_of(stored).tzinfo is UTC
    # Text that already names its offset (no writer of ours makes it) still reads as UTC.
    assert driver._sqlite_time_of("2026-12-07T11:54:05+00:00") == result("2026-12-07 11:54:05")


@pytest.mark.parametrize("stored", ['{"a": [1, 2.5, "\\u00e9"]}', "[]", "{}", "null", "3"])
def test_a_document_is_read_as_the_column_type_does(stored: str) -> None:
    result = JsonDocument.dialect_impl(DIALECT).result_processor(DIALECT, None)
    assert result is not None
    assert driver._sqlite_document_of(stored) == result(stored)


def test_the_hot_statements_use_them_on_sqlite() -> None:
    from tracking.service.store.executions import _LOCK

    compiled = _LOCK.compiled(DIALECT)
    used = {converter for _, converter in compiled.converters}
    assert {driver._sqlite_time_of, driver._sqlite_document_of} <= used


POSTGRES = postgresql_asyncpg.dialect()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("value", TIMES, ids=str)
def test_a_time_is_bound_and_read_on_postgresql_as_the_column_type_does(value: datetime) -> None:
    impl = UtcDateTime().dialect_impl(POSTGRES)
    bind = impl.bind_processor(POSTGRES)
    result = impl.result_processor(POSTGRES, None)
    assert bind is not None
    assert result is not None
    bound = driver._postgres_time(value)
    assert bound == bind(value)
    assert bound.tzinfo is UTC
    assert driver._postgres_time(bound) == result(bound)
    assert driver._postgres_time(bound).tzinfo is UTC


def test_the_hot_statements_use_them_on_postgresql() -> None:
    from tracking.service.store.executions import _LOCK

    compiled = _LOCK.compiled(POSTGRES)
    assert driver._postgres_time in {converter for _, converter in compiled.converters}


@pytest.mark.parametrize(
    "document", [[], {}, {"a": [1, 2.5, "\u00e9"]}, [{}], "text", 3, 0, False, [[]]], ids=repr
)
@pytest.mark.parametrize("dialect", [DIALECT, POSTGRES], ids=lambda d: d.name)
def test_a_document_is_bound_as_the_column_type_does(document: Any, dialect: Any) -> None:
    bind = JsonDocument.dialect_impl(dialect).bind_processor(dialect)
    assert bind is not None
    assert driver._document_text(document) == bind(document)
