"""Hot statements on the database driver's own connection.

A hot statement is written once, as SQLAlchemy Core over the SQLModel tables (`Hot`), and
compiled once per dialect: SQL text, the name of each positional parameter, and a
converter for each result column whose type needs one (times). It then runs on the
driver itself: `sqlite3` on the event loop, asyncpg with prepared statements (asyncpg
prepares a statement the first time a connection runs its text, and keeps it). Rows come
back as tuples; no ORM object and no SQLAlchemy result is built. Through SQLAlchemy's
async layer the same point read cost thirty times what the driver does.

SQLAlchemy and SQLModel stay for the schema, migrations and every statement that is not
hot.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import JSON, Boolean, DateTime, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.store.faults import connection_lost
from tracking.service.store.types import UtcDateTime

Row = Sequence[Any]


def param(name: str, type_: Any = None) -> BindParameter[Any]:
    """A parameter of a hot statement, given by name when it runs (of a column's type where
    the statement does not tell it: in an INSERT's or UPDATE's values)."""
    return bindparam(name, type_=type_, required=False)


@dataclass(frozen=True, slots=True)
class Compiled:
    """A hot statement as one dialect runs it."""

    sql: str
    # Per position: the name of the parameter given at run time, or a constant's value,
    # and the conversion of its type (a time, a document), if any.
    names: tuple[str | None, ...]
    constants: tuple[Any, ...]
    binders: tuple[Callable[[Any], Any] | None, ...]
    # (column index, converter) for the columns whose driver value is not the value.
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        values = [
            params[name] if name is not None else constant
            for name, constant in zip(self.names, self.constants, strict=True)
        ]
        for index, binder in enumerate(self.binders):
            if binder is not None and values[index] is not None:
                values[index] = binder(values[index])
        return values

    def convert(self, row: Row) -> Row:
        if not self.converters:
            return row
        values = list(row)
        for index, converter in self.converters:
            value = values[index]
            if value is not None:
                values[index] = converter(value)
        return values


def compile_for(statement: Any, dialect: Dialect) -> Compiled:
    """Compile a Core statement for `dialect`: parameters made with `param` are given at run
    time, every other bound value (a filter's, a literal list's) is kept as a constant."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    given = {
        bind.key
        for bind in compiled.binds.values()
        if bind.required is False and bind.value is None and bind.callable is None
    }
    positions = compiled.positiontup or []
    names = tuple(name if name in given else None for name in positions)
    constants = tuple(None if name in given else compiled.params[name] for name in positions)
    types = {name: bind.type for bind, name in compiled.bind_names.items()}
    binders = []
    for name in positions:
        # A list's values (IN) are named after their parameter: status_1 -> status_1_1, ...
        bind_type = types.get(name) or types.get(name.rsplit("_", 1)[0])
        binder = None
        if bind_type is not None and isinstance(bind_type, _CONVERTED):
            binder = _fast.get((dialect.name, _kind(bind_type), "bind"))
            if binder is None:
                binder = bind_type.dialect_impl(dialect).bind_processor(dialect)
        binders.append(binder)
    converters = []
    for index, column in enumerate(_result_columns(statement)):
        if not isinstance(column.type, _CONVERTED):
            continue  # numbers, text and bytes come from both drivers as they are
        converter = _fast.get((dialect.name, _kind(column.type), "result"))
        if converter is None:
            converter = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if converter is not None:
            converters.append((index, converter))
    return Compiled(str(compiled), names, constants, tuple(binders), tuple(converters))


def _sqlite_time(value: datetime) -> str:
    """What UtcDateTime binds on SQLite (naive UTC, always six digits of microseconds), as
    SQLAlchemy's processors make it, at a third of their cost."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def _sqlite_time_of(value: str) -> datetime:
    # The stored text is naive UTC: parsed with its offset named, the time comes out aware
    # (datetime.UTC itself) without replace()'s keyword parsing, a tenth of the cost.
    try:
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _postgres_time(value: datetime) -> datetime:
    """What UtcDateTime binds on PostgreSQL (an aware UTC time), without a new object when
    it already is one."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _sqlite_document_of(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _document_text(value: Any) -> str:
    """What the JSON column types bind (json.dumps's text, on both databases), with the
    empty documents most executions hold known in advance."""
    if value == []:
        return "[]"
    if value == {}:
        return "{}"
    return json.dumps(value)


def _kind(type_: Any) -> str:
    if isinstance(type_, UtcDateTime):
        return "time"
    if isinstance(type_, JSON):
        return "json"
    return ""


# Conversions done here rather than by the column type's processors, whose layers cost more
# than the conversion (tests/unit/test_driver_conversions.py compares them).
_fast: dict[tuple[str, str, str], Callable[[Any], Any]] = {
    ("sqlite", "time", "bind"): _sqlite_time,
    ("sqlite", "time", "result"): _sqlite_time_of,
    ("sqlite", "json", "result"): _sqlite_document_of,
    ("sqlite", "json", "bind"): _document_text,
    ("postgresql", "json", "bind"): _document_text,
    # asyncpg reads a timestamptz as an aware time in UTC already: the same conversion.
    ("postgresql", "time", "bind"): _postgres_time,
    ("postgresql", "time", "result"): _postgres_time,
}

# The column types whose driver value is not yet the value (times, flags, documents).
_CONVERTED = (TypeDecorator, DateTime, Boolean, JSON)


def _result_columns(statement: Any) -> list[Any]:
    if getattr(statement, "is_select", False):
        return list(statement.selected_columns)
    return list(getattr(statement, "_returning", ()))


class Hot:
    """A statement written once from the tables, compiled on first use for each dialect."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._by_dialect: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = compile_for(self.statement, dialect)
        return found


class Connection:
    """A driver connection that hot statements run on."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    async def rows(self, statement: Hot, **params: Any) -> list[Row]:
        raise NotImplementedError

    async def row(self, statement: Hot, **params: Any) -> Row | None:
        found = await self.rows(statement, **params)
        return found[0] if found else None

    async def execute(self, statement: Hot, **params: Any) -> None:
        await self.rows(statement, **params)

    async def execute_many(self, statement: Hot, params: list[dict[str, Any]]) -> None:
        """Run `statement` once for each set of parameters."""
        raise NotImplementedError

    def savepoint(self) -> Any:
        """An async context manager: what runs in it is rolled back if it raises."""
        raise NotImplementedError


class SqliteConnection(Connection):
    """A sqlite3 connection, used on the event loop."""

    def __init__(self, dialect: Dialect, raw: sqlite3.Connection) -> None:
        super().__init__(dialect)
        self.raw = raw

    async def rows(self, statement: Hot, **params: Any) -> list[Row]:
        compiled = statement.compiled(self.dialect)
        found = self.raw.execute(compiled.sql, compiled.arguments(params))
        rows = found.fetchall()
        if compiled.converters:
            return [compiled.convert(row) for row in rows]
        return rows

    async def execute(self, statement: Hot, **params: Any) -> None:
        compiled = statement.compiled(self.dialect)
        self.raw.execute(compiled.sql, compiled.arguments(params))

    async def execute_many(self, statement: Hot, params: list[dict[str, Any]]) -> None:
        compiled = statement.compiled(self.dialect)
        self.raw.executemany(compiled.sql, [compiled.arguments(p) for p in params])

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        self.raw.execute("SAVEPOINT write")
        try:
            yield
        except BaseException:
            self.raw.execute("ROLLBACK TO write")
            self.raw.execute("RELEASE write")
            raise
        self.raw.execute("RELEASE write")


class PostgresConnection(Connection):
    """An asyncpg connection; asyncpg prepares each statement text once and keeps it."""

    def __init__(self, dialect: Dialect, raw: asyncpg.Connection) -> None:
        super().__init__(dialect)
        self.raw = raw

    async def rows(self, statement: Hot, **params: Any) -> list[Row]:
        compiled = statement.compiled(self.dialect)
        found: list[Row] = await self.raw.fetch(compiled.sql, *compiled.arguments(params))
        if compiled.converters:
            return [compiled.convert(row) for row in found]
        return found

    async def execute(self, statement: Hot, **params: Any) -> None:
        compiled = statement.compiled(self.dialect)
        await self.raw.execute(compiled.sql, *compiled.arguments(params))

    async def execute_many(self, statement: Hot, params: list[dict[str, Any]]) -> None:
        compiled = statement.compiled(self.dialect)
        await self.raw.executemany(compiled.sql, [compiled.arguments(p) for p in params])

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        transaction = self.raw.transaction()  # inside a transaction: a SAVEPOINT
        await transaction.start()
        try:
            yield
        except BaseException:
            await transaction.rollback()
            raise
        await transaction.commit()


async def connection_of(session: AsyncSession) -> Connection:
    """The driver connection under a session's transaction, for hot statements that belong
    to it (a group commit's): what they do commits or rolls back with the session."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    if connection.dialect.name == "sqlite":
        # aiosqlite's interface over the sqlite3 connection (store/inline_sqlite.py).
        return SqliteConnection(connection.dialect, adapted._connection._connection)
    # SQLAlchemy's asyncpg adapter begins its transaction with its first statement: begin
    # it now, so that the driver's statements run inside it.
    if adapted._transaction is None:
        await adapted._start_transaction()
    return PostgresConnection(connection.dialect, adapted._connection)


class Driver:
    """Runs hot reads on the driver's own connection (see the module)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    async def rows(self, statement: Hot, **params: Any) -> list[Row]:
        raise NotImplementedError

    async def row(self, statement: Hot, **params: Any) -> Row | None:
        found = await self.rows(statement, **params)
        return found[0] if found else None

    def transaction(self) -> Any:
        """An async context manager: a write transaction on a driver connection of its own,
        committed when the block ends without error, rolled back otherwise (group commit)."""
        raise NotImplementedError

    def reset_writer(self) -> None:
        """Drop the connection writes use (one that saw the storage refuse may keep failing)."""

    async def close(self) -> None:
        raise NotImplementedError


class SqliteDriver(Driver):
    """One sqlite3 connection for reads, used on the event loop. In WAL a reader never
    waits for the writer; statements are short (one execution, one page)."""

    def __init__(
        self,
        dialect: Dialect,
        connect: Callable[[], sqlite3.Connection],
        prepare_writer: Callable[[sqlite3.Connection], None],
    ) -> None:
        super().__init__(dialect)
        self._connect = connect
        self._prepare_writer = prepare_writer
        self._connection: SqliteConnection | None = None
        self._writer: SqliteConnection | None = None

    def _open(self) -> SqliteConnection:
        if self._connection is None:
            raw = self._connect()
            raw.isolation_level = None  # each read its own implicit transaction
            raw.execute("PRAGMA busy_timeout=30000")
            self._connection = SqliteConnection(self.dialect, raw)
        return self._connection

    async def rows(self, statement: Hot, **params: Any) -> list[Row]:
        connection = self._open()
        try:
            return await connection.rows(statement, **params)
        except sqlite3.Error:
            self.reset()
            raise

    def reset(self) -> None:
        """Drop the connection; the next read opens a new one."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.raw.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """BEGIN IMMEDIATE on the writer's connection, on the event loop (the caller makes
        sure no other writer of this process holds SQLite's write lock meanwhile)."""
        if self._writer is None:
            raw = self._connect()
            raw.isolation_level = None  # BEGIN and COMMIT are ours
            self._prepare_writer(raw)
            self._writer = SqliteConnection(self.dialect, raw)
        connection = self._writer
        connection.raw.execute("BEGIN IMMEDIATE")
        try:
            yield connection
            connection.raw.execute("COMMIT")
        except BaseException:
            if connection.raw.in_transaction:
                try:
                    connection.raw.execute("ROLLBACK")
                except sqlite3.Error:
                    self.reset_writer()
            raise

    def reset_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.raw.close()

    async def close(self) -> None:
        self.reset()
        self.reset_writer()


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Hand a connection back as it is: the hot statements change no session state, and
    asyncpg's default reset costs a round trip per statement (RESET ALL, UNLISTEN *, ...)."""


async def _json_codecs(connection: asyncpg.Connection) -> None:
    """Documents as SQLAlchemy's asyncpg dialect passes them (its bind processors make the
    JSON text, the codec parses results), so that compiled statements behave the same."""
    await connection.set_type_codec(
        "json",
        encoder=str.encode,
        decoder=lambda b: json.loads(b.decode()),
        schema="pg_catalog",
        format="binary",
    )
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda s: b"\x01" + s.encode(),
        decoder=lambda b: json.loads(b[1:].decode()),
        schema="pg_catalog",
        format="binary",
    )


class PostgresDriver(Driver):
    """asyncpg connections of its own, `max_size` at most: one kept for reads, which a read
    uses whenever no other read is running on it (no pool to go through: acquiring and
    releasing a pooled connection cost as much as the read), and a pool for the rest and
    for writes. asyncpg prepares each statement once per connection."""

    def __init__(self, dialect: Dialect, dsn: str, max_size: int) -> None:
        super().__init__(dialect)
        self._dsn = dsn
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._reader: asyncpg.Connection | None = None
        self._reading = False
        self._reader_retry_at = 0.0  # loop time before which no reader is opened again

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=0,
                max_size=self._max_size - 1,  # and the reader
                statement_cache_size=256,
                reset=_keep_session,
                init=_json_codecs,
                # No idle timer: asyncpg would arm and cancel one per acquisition.
                max_inactive_connection_lifetime=0,
            )
        return self._pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        pool = await self._get_pool()
        for attempt in (1, 2):
            async with pool.acquire() as raw:
                transaction = raw.transaction()
                try:
                    await transaction.start()
                except Exception as error:
                    # A connection the database closed while it sat in the pool (a restart):
                    # nothing ran yet, so the transaction starts once more on a new one.
                    if attempt == 2 or not connection_lost(error):
                        raise
                    continue
                try:
                    yield PostgresConnection(self.dialect, raw)
                except BaseException:
                    if not raw.is_closed():
                        try:
                            await transaction.rollback()
                        except Exception:
                            raw.terminate()
                    raise
                await transaction.commit()
                return

    def reset_writer(self) -> None:
        if self._pool is not None:
            self._pool.expire_connections()

    async def rows(self, statement: Hot, **params: Any) -> list[Row]:
        compiled = statement.compiled(self.dialect)
        found = await self._read(compiled.sql, compiled.arguments(params))
        if compiled.converters:
            return [compiled.convert(row) for row in found]
        return found

    async def _read(self, sql: str, arguments: list[Any]) -> list[Row]:
        if self._reading:
            return await self._pooled_read(sql, arguments)
        self._reading = True
        try:
            reader = self._reader
            if reader is None and asyncio.get_running_loop().time() >= self._reader_retry_at:
                reader = await self._open_reader()
            if reader is None:
                return await self._pooled_read(sql, arguments)
            try:
                found: list[Row] = await reader.fetch(sql, *arguments)
            except asyncpg.PostgresError as error:
                if not connection_lost(error):
                    raise  # the statement failed; the connection is as good as before
                self._drop_reader()
                return await self._pooled_read(sql, arguments)
            except asyncio.CancelledError:
                # The call went away mid-statement: asyncpg cancels the statement on the
                # server, and the next read on this connection waits for that to finish.
                raise
            except Exception as error:
                self._drop_reader()
                if connection_lost(error):
                    return await self._pooled_read(sql, arguments)
                raise
            return found
        finally:
            self._reading = False

    async def _pooled_read(self, sql: str, arguments: list[Any]) -> list[Row]:
        pool = await self._get_pool()
        try:
            found: list[Row] = await pool.fetch(sql, *arguments)
        except Exception as error:
            # A connection the database closed while it sat in the pool (a restart) fails
            # its first statement: a read is tried once more, on a new connection.
            if not connection_lost(error):
                raise
            found = await pool.fetch(sql, *arguments)
        return found

    async def _open_reader(self) -> asyncpg.Connection | None:
        """The connection kept for reads, or None while it cannot be opened (reads go to
        the pool, which answers as the database does)."""
        reader: asyncpg.Connection | None = None
        try:
            reader = await asyncpg.connect(self._dsn, statement_cache_size=256)
            await _json_codecs(reader)
        except BaseException as error:
            if reader is not None:
                reader.terminate()
            if isinstance(error, Exception):
                # Not again for a second: a full or restarting database is not asked at
                # every read.
                self._reader_retry_at = asyncio.get_running_loop().time() + 1.0
                return None
            raise
        self._reader = reader
        return reader

    def _drop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.terminate()

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                await reader.close(timeout=5)
            except Exception:
                reader.terminate()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
