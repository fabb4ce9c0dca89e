"""Group commit: writes that arrive together share one transaction.

A write joins the group with `Database.write(work, key)`: `work(batch)` is queued, and
one task per Database (the committer) takes every write waiting, opens one transaction,
runs each write in a SAVEPOINT of its own, then commits once. The transaction is the
driver's own (no session, no ORM object) unless a write of the batch asked for a session. A write that fails (a
domain error, a constraint) rolls back its savepoint and gets its own error; the others
go on. A write that checks before it changes anything (the status changes and log
appends) may run without a savepoint: its domain errors come before its first change, so
there is nothing to roll back, and any other error of it starts the batch over without
it (the others have not been answered yet and run again in the next transaction). Nothing is answered before the commit: results and errors are handed out after it,
in the order the writes ran, and a commit that fails is every successful write's error.

There is no timer. While a batch commits, new writes queue; the next batch is whatever
queued meanwhile, so a lone writer commits at once and batches grow with the load.

What a transaction does once, however many writes it holds, is done at the end, in
`_finish`: the events of every write are inserted after the event-order lock (PostgreSQL),
so a batch takes no row lock while it holds that lock; the announcements to other
replicas, which carry those events with their ids, go out as one statement; and the
after-commit actions (publishing to this process's hub) run in order once the commit
returned and the writes were answered. On PostgreSQL the writes of a batch
run in the order of their keys (execution ids), so that two processes' batches lock rows
in the same order and cannot deadlock; a write that loses a deadlock anyway is tried
again in the next batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import asyncpg
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.domain.announcement import Announcement, encode_announcement
from tracking.service.domain.errors import DomainError, Unavailable
from tracking.service.domain.events import ExecutionEvent
from tracking.service.store import executions as execution_store
from tracking.service.store.driver import Connection, connection_of
from tracking.service.store.models import DeploymentEventRow

if TYPE_CHECKING:
    from tracking.service.store.database import Database

T = TypeVar("T")
log = logging.getLogger("tracking.store.group")

# Writes per transaction at most: a batch holds the (SQLite) event loop while it runs.
MAX_BATCH = 128
# A write that loses a deadlock is tried again this many times in later batches.
DEADLOCK_RETRIES = 3


@dataclass
class Batch:
    """One group commit's transaction, handed to each write explicitly: the driver
    connection its statements run on, a session only when one of its writes asked for one
    (`Database.write(..., session=True)`), and what its writes leave for its end (event
    rows, announcements, actions after the commit)."""

    connection: Connection
    replica_id: str
    _session: AsyncSession | None = None
    events: list[ExecutionEvent] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    actions: list[Callable[[], None]] = field(default_factory=list)
    deployment_events: list[DeploymentEventRow] = field(default_factory=list)

    @property
    def session(self) -> AsyncSession:
        """The ORM session of the transaction, for a write that asked for one."""
        if self._session is None:
            raise RuntimeError("this write did not ask for a session (Database.write)")
        return self._session

    def savepoint(self) -> Any:
        """An async context manager: a SAVEPOINT that a failing write rolls back."""
        if self._session is not None:
            return self._session.begin_nested()
        return self.connection.savepoint()

    def add_events(self, events: list[ExecutionEvent]) -> None:
        """Insert these events at the batch's end, with every other write's (ids then)."""
        self.events.extend(events)

    def add_deployment_event(self, event: DeploymentEventRow) -> None:
        """Insert this deployment event at the batch's end (its id then, in commit order)."""
        self.deployment_events.append(event)

    def announce(
        self,
        kind: str,
        execution_id: str,
        deployment_name: str | None = None,
        event: ExecutionEvent | None = None,
        size: int = 0,
    ) -> None:
        """Tell the other replicas (PostgreSQL), once this transaction commits, that
        something changed; an "event" announcement carries `event`, a "logs" one the
        `size` of the lines."""
        if self.connection.dialect.name == "postgresql":
            self.announcements.append(
                Announcement(self.replica_id, kind, execution_id, deployment_name, event, size)
            )

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the batch committed (never if it did not)."""
        self.actions.append(action)

    def mark(self) -> tuple[int, int, int, int]:
        return (
            len(self.events),
            len(self.announcements),
            len(self.actions),
            len(self.deployment_events),
        )

    def undo_to(self, mark: tuple[int, int, int, int]) -> None:
        """Forget what a write whose savepoint was rolled back left."""
        del self.events[mark[0] :]
        del self.announcements[mark[1] :]
        del self.actions[mark[2] :]
        del self.deployment_events[mark[3] :]


@dataclass
class _Write(Generic[T]):
    work: Callable[[Batch], Awaitable[T]]
    key: str
    future: asyncio.Future[T]
    savepoint: bool
    session: bool
    tries: int = 0
    outcome: tuple[bool, Any] | None = None  # (succeeded, result or error)


def _lost_deadlock(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, asyncpg.DeadlockDetectedError) or isinstance(
            getattr(seen, "orig", None), asyncpg.DeadlockDetectedError
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class _StartOver(Exception):
    """A write without a savepoint failed after it may have changed something."""


class GroupCommit:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: list[_Write[Any]] = []
        self._wakeup: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # Figures for tests and the bench: transactions committed, writes they held.
        self.batches = 0
        self.writes = 0

    async def write(
        self, work: Callable[[Batch], Awaitable[T]], key: str, savepoint: bool, session: bool
    ) -> T:
        if self._closed:
            raise Unavailable("the server is stopping")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Write(work, key, future, savepoint, session))
        if self._task is None:
            self._task = asyncio.create_task(self._commit_forever(), name="tracking-group-commit")
        elif self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)
        # A caller that goes away does not take the write back once its batch has started:
        # like a call cut during its transaction, it may or may not have been stored.
        return await future

    async def _commit_forever(self) -> None:
        while True:
            if not self._queue:
                if self._closed:
                    return
                self._wakeup = asyncio.get_running_loop().create_future()
                await self._wakeup
                continue
            taken, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            writes = [w for w in taken if not w.future.done()]  # cancelled while queued
            if writes:
                await self._commit(writes)

    async def _commit(self, writes: list[_Write[Any]]) -> None:
        if self.db.dialect == "postgresql":
            writes.sort(key=lambda w: w.key)
        again: list[_Write[Any]] = []
        batch: Batch | None = None
        actions: list[Callable[[], None]] = []
        try:
            async with self._transaction(any(w.session for w in writes)) as batch:
                for write in writes:
                    mark = batch.mark()
                    try:
                        if write.savepoint:
                            async with batch.savepoint():
                                result = await write.work(batch)
                        else:
                            result = await write.work(batch)
                    except Exception as error:
                        if self.db.broken(error):
                            raise  # the transaction is gone: every write of it fails
                        if not write.savepoint and not isinstance(error, DomainError):
                            if _lost_deadlock(error) and write.tries < DEADLOCK_RETRIES:
                                write.tries += 1  # runs again with the others
                            else:
                                write.outcome = (False, error)
                            raise _StartOver from error
                        batch.undo_to(mark)
                        if _lost_deadlock(error) and write.tries < DEADLOCK_RETRIES:
                            write.tries += 1
                            again.append(write)
                        else:
                            write.outcome = (False, error)
                    else:
                        write.outcome = (True, result)
                await self._finish(batch)
        except Exception as error:
            # Not committed. A write that failed on its own keeps its error (it changed
            # nothing either way); the others get the batch's error, or run again when a
            # write without a savepoint made the batch start over.
            start_over = isinstance(error, _StartOver)
            retried = set(map(id, again))
            again = []
            for write in writes:
                if id(write) in retried or write.outcome is None or write.outcome[0]:
                    if start_over:
                        write.outcome = None
                        again.append(write)
                    else:
                        write.outcome = (False, error)
        else:
            self.batches += 1
            self.writes += len(writes) - len(again)
            assert batch is not None
            actions = batch.actions
        self._queue[:0] = again
        for write in writes:
            if write.outcome is None or write.future.done():
                continue
            succeeded, value = write.outcome
            if succeeded:
                write.future.set_result(value)
            else:
                write.future.set_exception(value)
        # Answered first, published then, in the same step: the watchers the hub wakes
        # run after the writers, so a writer's answer does not wait for every watcher to
        # send the change it made.
        for action in actions:
            try:
                action()
            except Exception:
                log.exception("an action after a commit failed")

    @asynccontextmanager
    async def _transaction(self, with_session: bool) -> AsyncIterator[Batch]:
        """The batch's transaction: on the driver alone, unless a write asked for a session."""
        if with_session:
            async with self.db.writing() as session:
                yield Batch(await connection_of(session), self.db.replica_id, session)
        else:
            async with self.db.driver_writing() as connection:
                yield Batch(connection, self.db.replica_id)

    async def _finish(self, batch: Batch) -> None:
        if batch.events or batch.deployment_events:
            await self.db.lock_event_order(batch.connection)
        if batch.events:
            await execution_store.insert_events(batch.connection, batch.events)
        if batch.deployment_events:
            # Added by writes that asked for a session (a deployment's deletion).
            batch.session.add_all(batch.deployment_events)
            await batch.session.flush()
        if batch.announcements:
            payloads = dict.fromkeys(map(encode_announcement, batch.announcements))
            await self.db.notify(batch.connection, list(payloads))

    async def close(self) -> None:
        """Let the batch that runs end; refuse what still waits."""
        self._closed = True
        pending, self._queue = self._queue, []
        for write in pending:
            if not write.future.done():
                write.future.set_exception(Unavailable("the server is stopping"))
        if self._task is not None:
            if self._wakeup is not None and not self._wakeup.done():
                self._wakeup.set_result(None)
            await asyncio.wait([self._task], timeout=30)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
