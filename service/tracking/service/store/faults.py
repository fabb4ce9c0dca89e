"""What a failed statement means: the database was lost, or the storage refused a write.

Both end the transaction they happen in and are answered UNAVAILABLE (errors.py); they are
recognised here whether the statement ran through SQLAlchemy or on the driver itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc

_CONNECTION_LOST = (
    ConnectionError,  # refused, reset, aborted
    TimeoutError,  # a connect that did not finish
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, and "connection does not exist"
    asyncpg.AdminShutdownError,  # 57P01: terminated, or the server is stopping
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    # 53300: a new connection refused because the database has as many as it allows (its
    # max_connections, shared with every other client, or a role's or database's limit).
    asyncpg.TooManyConnectionsError,
    # A connection whose statement was cut by its backend's end can be left mid-protocol
    # ("cannot switch to state ...; another operation is in progress"): it is lost too.
    asyncpg.InternalClientError,
)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and every cause and context behind it, each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [current.__cause__, current.__context__]


def connection_lost(error: BaseException) -> bool:
    """Whether `error` comes from losing the database (down, restarting, connection cut).

    The error SQLAlchemy raises may be a later one (a rollback on the broken connection)
    whose context is the loss, so the whole chain of causes and contexts is searched.
    """
    return any(
        isinstance(current, _CONNECTION_LOST)
        or (isinstance(current, exc.DBAPIError) and current.connection_invalidated)
        or (isinstance(current, asyncpg.InterfaceError) and "connection is closed" in str(current))
        for current in _chain(error)
    )


# What SQLite and PostgreSQL say when the storage itself refuses a write: not a fault of the
# call, and not lasting once someone fixes the disk, the permissions or the mount.
_REFUSED_WRITE = (
    "attempt to write a readonly database",
    "database or disk is full",
    "disk i/o error",
    "unable to open database file",
)
_REFUSED_WRITE_ERRORS = (
    asyncpg.ReadOnlySQLTransactionError,  # a standby, or default_transaction_read_only
    asyncpg.DiskFullError,
)


# After the storage refused a write, the room a SQLite volume needs before writes count as
# possible again: what the largest requests take.
PROBE_FREE_BYTES = 4 << 20


_DUPLICATE = (
    exc.IntegrityError,
    sqlite3.IntegrityError,
    asyncpg.IntegrityConstraintViolationError,
)


def duplicate(error: BaseException) -> bool:
    """Whether `error` is a unique key (or another integrity rule) the database enforced."""
    return any(isinstance(current, _DUPLICATE) for current in _chain(error))


def storage_refused(error: BaseException) -> str | None:
    """What the storage said if `error` is it refusing to write (read-only, full, I/O)."""
    for current in _chain(error):
        if isinstance(current, _REFUSED_WRITE_ERRORS) or (
            isinstance(current, sqlite3.OperationalError)
            and any(refusal in str(current).lower() for refusal in _REFUSED_WRITE)
        ):
            return str(current)
    return None
