"""Sends a command's output to the server as log lines, in batches, keeping every line until
the server has it."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from google.protobuf import timestamp_pb2

from tracking.cli.runner.persist import Deadline, persist
from tracking.client import AsyncTrackingClient, RemoteException
from tracking.v1 import execution_pb2

BATCH_LINES = 500
BATCH_BYTES = 1 << 20
MAX_BUFFERED = 100_000


class LogShipper:
    """Buffers lines and appends them in batches of up to BATCH_LINES (or BATCH_BYTES), at the
    latest `interval` seconds after the first line of a batch arrived.

    While the server cannot be reached, lines stay in the buffer; once it holds MAX_BUFFERED,
    `add` waits, which stops reading the command's output and so makes the command wait too.
    A batch whose fate is uncertain (the connection broke during the call) is checked before
    it is sent again: the runner is the only writer of its execution's logs, so lines after
    the last acknowledged seq mean the batch was stored.
    """

    def __init__(
        self,
        client: AsyncTrackingClient,
        execution_id: str,
        deadline: Deadline,
        *,
        interval: float = 0.2,
        max_buffered: int = MAX_BUFFERED,
    ) -> None:
        self._client = client
        self._execution_id = execution_id
        self._deadline = deadline
        self._interval = interval
        self._max_buffered = max_buffered
        self._buffer: deque[execution_pb2.LogEntry] = deque()
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closed = False
        self.last_seq = 0
        self.sent = 0
        self.refused: list[str] = []

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def add(self, stream: execution_pb2.LogStream, message: str) -> None:
        while len(self._buffer) >= self._max_buffered:
            self._room.clear()
            await self._room.wait()
        timestamp = timestamp_pb2.Timestamp()
        timestamp.GetCurrentTime()
        self._buffer.append(
            execution_pb2.LogEntry(stream=stream, message=message, timestamp=timestamp)
        )
        self._arrived.set()

    def close(self) -> None:
        """No more lines will come: send what is left, then `run` returns."""
        self._closed = True
        self._arrived.set()

    async def run(self) -> None:
        while True:
            if not self._buffer:
                if self._closed:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            if len(self._buffer) < BATCH_LINES and not self._closed:
                # Let a batch fill up a little before sending it.
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full_or_closed(), self._interval)
            batch = self._next_batch()
            await self._deliver(batch)
            for _ in batch:
                self._buffer.popleft()
            self._room.set()

    async def _full_or_closed(self) -> None:
        while len(self._buffer) < BATCH_LINES and not self._closed:
            self._arrived.clear()
            await self._arrived.wait()

    def _next_batch(self) -> list[execution_pb2.LogEntry]:
        batch: list[execution_pb2.LogEntry] = []
        size = 0
        for entry in self._buffer:
            size += len(entry.message) * 4 + 64
            if batch and (len(batch) == BATCH_LINES or size > BATCH_BYTES):
                break
            batch.append(entry)
        return batch

    async def _deliver(self, batch: list[execution_pb2.LogEntry]) -> None:
        async def attempt(uncertain: bool) -> None:
            if uncertain and await self._stored_already(len(batch)):
                return
            self.last_seq = await self._client.append_logs(self._execution_id, batch)

        try:
            await persist(attempt, self._deadline)
        except RemoteException as error:
            # Refused for good (or the server stayed away past the deadline): say so, go on.
            self.refused.append(f"{len(batch)} lines: {error}")
            return
        self.sent += len(batch)

    async def _stored_already(self, count: int) -> bool:
        after = await self._client.get_execution_logs(
            self._execution_id, after_seq=self.last_seq, limit=1
        )
        if not after:
            return False
        self.last_seq += count
        return True
