"""Engines, sessions and start-up (migrations) for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import event, func, select, text
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.domain.announcement import CHANNEL
from tracking.service.domain.errors import Unavailable
from tracking.service.store import inline_sqlite, meta, migrations
from tracking.service.store.driver import (
    Connection,
    Driver,
    Hot,
    PostgresDriver,
    SqliteDriver,
    connection_of,
    param,
)
from tracking.service.store.faults import PROBE_FREE_BYTES, connection_lost, storage_refused
from tracking.service.store.group import Batch, GroupCommit
from tracking.service.store.models import DeploymentEventRow

T = TypeVar("T")
P = ParamSpec("P")

# Any constant works: it names the lock that serialises event ids (and migrations).
EVENT_LOCK_ID = 0x7472_6163
MIGRATION_LOCK_ID = 0x7472_6164
_EVENT_LOCK = Hot(select(func.pg_advisory_xact_lock(EVENT_LOCK_ID)))
_NOTIFY = Hot(
    text(
        "SELECT pg_notify(:b_channel, payload) FROM unnest(CAST(:b_payloads AS text[])) AS payload"
    ).bindparams(param("b_channel"), param("b_payloads"))
)


def normalize_url(url: str) -> str:
    """Pick the asyncio driver for a plain sqlite:// or postgresql:// URL."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}.get(
        parsed.drivername, parsed.drivername
    )
    if driver == "postgres":
        driver = "postgresql+asyncpg"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook emit BEGIN, so writers can ask for IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "busy_timeout=30000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _begin_with(statement: str) -> Any:
    def begin(connection: SyncConnection) -> None:
        connection.exec_driver_sql(statement)

    return begin


class Database:
    """The service's storage: a reader pool and a writer path.

    On SQLite, writes go through one connection that starts with BEGIN
    IMMEDIATE, so writers queue instead of failing with "database is locked";
    readers use a pool of their own (WAL lets them read while one writes).
    On PostgreSQL, both use one pool and writers lock the rows they change.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # Statements run on the event loop (store/inline_sqlite.py), not in a thread each.
            args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(parsed)
            uri = bool(kwargs.get("uri"))
            creator = inline_sqlite.connector(str(args[0]), uri=uri)
            self.read_engine = create_async_engine(
                self.url, echo=echo, pool_size=4, async_creator=creator
            )
            self.write_engine = create_async_engine(
                self.url,
                echo=echo,
                pool_size=1,
                max_overflow=0,
                pool_timeout=300,
                async_creator=creator,
            )
            for engine, begin in (
                (self.read_engine, "BEGIN"),
                (self.write_engine, "BEGIN IMMEDIATE"),
            ):
                event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
                event.listen(engine.sync_engine, "begin", _begin_with(begin))
            self.driver: Driver = SqliteDriver(
                self.read_engine.dialect,
                partial(sqlite3.connect, str(args[0]), uri=uri, check_same_thread=False),
                partial(_sqlite_pragmas, _record=None),
            )
        elif self.dialect == "postgresql":
            self.read_engine = create_async_engine(
                self.url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True
            )
            self.write_engine = self.read_engine
            dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self.driver = PostgresDriver(self.read_engine.dialect, dsn, max_size=10)
        else:
            raise ValueError(
                f"unsupported database {parsed.drivername!r}: use sqlite or postgresql"
            )
        self.page_token_secret = b""
        self.replica_id = secrets.token_hex(4)
        self._finishing: set[asyncio.Future[Any]] = set()
        # Why writes cannot succeed now (None: they can); see StorageWatch.
        self.write_problem: str | None = None
        self.file_lost: str | None = None
        self.path = (
            Path(parsed.database).expanduser()
            if self.dialect == "sqlite" and parsed.database and parsed.database != ":memory:"
            else None
        )
        self._file_identity: tuple[int, int] | None = None
        # SQLite: the group commit's driver connection and the write engine's take turns, so
        # that neither waits on the event loop for a write lock the other holds.
        self._sqlite_writer = asyncio.Lock() if self.dialect == "sqlite" else None
        self.group = GroupCommit(self)

    async def start(self) -> None:
        """Bring the schema to the newest version and load the service's own values."""
        async with self.write_engine.begin() as connection:
            if self.dialect == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
            await connection.run_sync(migrations.upgrade)
            # Under the migration lock: replicas that start together agree on one secret.
            secret = await meta.secret(connection, meta.PAGE_TOKEN_SECRET)
        self.page_token_secret = bytes.fromhex(secret)
        self._file_identity = self._identity()

    def _identity(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return stat.st_dev, stat.st_ino

    def check_file(self) -> str | None:
        """On SQLite, whether the database file is still the one the server opened. Writes
        to a file deleted under the server would go to an unlinked inode and be lost."""
        if self.path is None or self.file_lost:
            return self.file_lost
        if self._identity() != self._file_identity:
            self.file_lost = (
                f"the database file {self.path} was deleted or replaced while the server ran:"
                " restart the server (it keeps writing to the old file until then)"
            )
        return self.file_lost

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(self.read_engine, expire_on_commit=False) as session:
            yield session

    async def read(
        self,
        work: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`work(session, *args, **kwargs)` in a read session that a cancelled caller does not
        cut short.

        Streams are cancelled whenever their client goes away. A query cancelled midway
        leaves its connection in an unknown state, so the pool drops it (PostgreSQL then
        opens a new one: a backend process and a few hundred KB per cancel). Here the
        caller still gets CancelledError at once, while the read runs to its end and
        returns its connection to the pool.
        """

        async def run() -> T:
            async with self.reading() as session:
                return await work(session, *args, **kwargs)

        task = asyncio.ensure_future(run())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            self._finishing.add(task)
            task.add_done_callback(self._finished)
            raise

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._finishing.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: nobody is waiting for it any more

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits when the block ends without error.

        A write the storage refuses (read-only, full) is recorded in `write_problem` and the
        writer's connection is dropped, so that the next write starts on a fresh one: a
        connection that saw the storage refuse may keep failing after the cause is gone.
        """
        if self.file_lost:
            raise Unavailable(self.file_lost)
        try:
            async with (
                self._one_writer(),
                AsyncSession(self.write_engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                yield session
        except Exception as error:
            await self._refused(error)
            raise
        self.write_problem = None

    @asynccontextmanager
    async def driver_writing(self) -> AsyncIterator[Connection]:
        """A write transaction on the driver itself (store/driver.py), with no session: what
        a group commit whose writes all run driver statements uses. Committed when the block
        ends without error; the storage's refusals are handled as `writing` handles them."""
        if self.file_lost:
            raise Unavailable(self.file_lost)
        try:
            async with self._one_writer(), self.driver.transaction() as connection:
                yield connection
        except Exception as error:
            await self._refused(error)
            raise
        self.write_problem = None

    @asynccontextmanager
    async def _one_writer(self) -> AsyncIterator[None]:
        if self._sqlite_writer is None:
            yield
        else:
            async with self._sqlite_writer:
                yield

    async def _refused(self, error: BaseException) -> None:
        reason = storage_refused(error)
        if reason is not None:
            self.write_problem = reason
            self.driver.reset_writer()
            await self.write_engine.dispose()
            await self.read_engine.dispose()

    async def write(
        self,
        work: Callable[[Batch], Awaitable[T]],
        key: str,
        *,
        savepoint: bool = True,
        session: bool = False,
    ) -> T:
        """Run `work(batch)` in the next group commit (store/group.py) and return what it
        returned once that transaction committed, or raise its own error. `key` (the
        execution id) orders the writes of a batch on PostgreSQL. `savepoint=False` is for
        work that raises a DomainError only before its first change. `session=True` is for
        work that uses the ORM (`batch.session`); the others run driver statements on
        `batch.connection`, and a batch of those alone opens no session."""
        return await self.group.write(work, key, savepoint, session)

    def broken(self, error: BaseException) -> bool:
        """Whether `error` ends the transaction it happened in, not just one write of it."""
        return connection_lost(error) or storage_refused(error) is not None

    async def add_deployment_event(self, session: AsyncSession, event: DeploymentEventRow) -> None:
        """Insert a deployment's event at the end of a transaction outside group commit
        (its id in commit order, as execution events')."""
        await self.lock_event_order(await connection_of(session))
        session.add(event)
        await session.flush()

    async def probe_write(self) -> bool:
        """Whether the storage takes writes again, by a write that changes nothing (and, on
        SQLite, room for a large request: a tiny write may fit where a batch does not)."""
        if self.path is not None:
            volume = os.statvfs(self.path.parent)
            if volume.f_bavail * volume.f_frsize < PROBE_FREE_BYTES:
                return False
        async with self.writing() as session:
            connection = await session.connection()
            await connection.execute(
                text("UPDATE service_meta SET value = value WHERE key = 'page_token_secret'")
            )
        return True

    async def lock_event_order(self, connection: Connection) -> None:
        """Make event ids follow commit order across concurrent writers (PostgreSQL)."""
        if self.dialect == "postgresql":
            await connection.execute(_EVENT_LOCK)

    async def notify(self, connection: Connection, payloads: list[str]) -> None:
        """NOTIFY every payload, in one statement, delivered when the transaction commits."""
        await connection.execute(_NOTIFY, b_channel=CHANNEL, b_payloads=payloads)

    async def close(self) -> None:
        await self.group.close()
        await self.driver.close()
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()
