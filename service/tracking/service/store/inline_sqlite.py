"""An aiosqlite connection that runs its statements on the calling thread.

aiosqlite gives every connection a worker thread and hands it each call
(cursor, execute, fetch, close, commit): through SQLAlchemy that is four thread
hops per statement, each a queue put, a wake-up, a self-pipe write to the event
loop and a GIL hand-over. A point read or a small write takes SQLite tens of
microseconds; the hops cost far more than that. So this connection runs the
call where it is made, on the event loop.

The price is that a statement blocks the loop while it runs. The server's
statements are small (one execution, one page, one batch of lines), WAL lets
readers run while a writer holds its lock, and the writer connection is the
process's only one. Long work (the retention sweep) runs in `offloaded()`:
its statements go to a worker thread, as aiosqlite would run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import aiosqlite

_offload: contextvars.ContextVar[bool] = contextvars.ContextVar("sqlite_offload", default=False)
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracking-sqlite")


@contextlib.contextmanager
def offloaded() -> Iterator[None]:
    """Statements run in this block (by this task) go to a worker thread."""
    token = _offload.set(True)
    try:
        yield
    finally:
        _offload.reset(token)


class _RunNow:
    """Stands for aiosqlite's queue to its thread, which SQLAlchemy also uses directly
    (to set isolation_level): runs the call at once and resolves its future."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:
            if future is not None and not future.done():
                future.set_exception(error)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's interface, without its thread (see the module's docstring)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx: Any = _RunNow()
        # An offloaded call still running in the worker: nothing else may touch the
        # connection (or close it) until it ends, even if the task that waited was cancelled.
        self._busy: asyncio.Future[Any] | None = None

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        busy = self._busy
        if busy is not None and not busy.done():
            await asyncio.wait([busy])
            if not self._running or not self._connection:
                raise ValueError("Connection closed")
        call = partial(fn, *args, **kwargs)
        if not _offload.get():
            return call()
        work = asyncio.get_running_loop().run_in_executor(_worker, call)
        self._busy = work
        return await asyncio.shield(work)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Any:
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        connection, self._connection = self._connection, None
        if connection is None:
            return
        busy = self._busy
        if busy is not None and not busy.done():
            busy.add_done_callback(lambda _: connection.close())
        else:
            connection.close()

    async def close(self) -> None:
        busy = self._busy
        if busy is not None and not busy.done():
            await asyncio.wait([busy])
        self.stop()


def connector(database: str, uri: bool = False) -> Callable[[], Any]:
    """An async_creator for create_async_engine: an inline connection to this file."""

    async def connect() -> InlineConnection:
        # Used from the thread that checked it out; check_same_thread would also refuse
        # the worker thread of offloaded() and the pool's clean-up after the loop ended.
        connection = InlineConnection(
            partial(sqlite3.connect, database, uri=uri, check_same_thread=False)
        )
        await connection._connect()
        return connection

    return connect
