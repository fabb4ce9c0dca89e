"""What a failed statement means: the database lost, or the storage refusing a write."""

from __future__ import annotations

import sqlite3

import asyncpg

from tracking.service.store.faults import connection_lost, storage_refused


def test_a_connection_left_mid_protocol_by_its_backends_end_is_lost() -> None:
    # What asyncpg raises when a statement runs on a connection whose previous one was cut
    # by pg_terminate_backend: answered UNAVAILABLE (errors.py), never INTERNAL.
    error = asyncpg.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    )
    assert connection_lost(error)
    assert storage_refused(error) is None


def test_a_terminated_backend_is_lost_and_a_constraint_is_not() -> None:
    assert connection_lost(asyncpg.AdminShutdownError("terminating connection"))
    assert not connection_lost(asyncpg.UniqueViolationError("duplicate key"))


def test_a_full_disk_is_a_refused_write_not_a_lost_connection() -> None:
    error = sqlite3.OperationalError("database or disk is full")
    assert storage_refused(error) is not None
    assert not connection_lost(error)
