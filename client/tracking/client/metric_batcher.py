"""Metric points sent in the background: a training loop records a point and goes on.

`MetricBatcher.add` only queues; a thread sends what is queued as LogMetrics batches (up to
1,000 points, at least every `interval` seconds while points wait), `flush()` waits until
everything queued before it was stored, and `close()` (also run at interpreter exit) flushes
and stops. A batch whose fate is unknown (the connection broke while it was sent) is checked
before it is sent again: the execution's last point seq tells whether it was stored, as long
as this batcher is the execution's only metric writer.
"""

from __future__ import annotations

import atexit
import datetime as dt
import threading
import time
import unicodedata
import weakref
from collections import deque

from tracking.v1 import metric_pb2

from .convert import to_timestamp
from .errors import DeadlineExceeded, RemoteException, ResourceExhausted, Unavailable
from .sync_client import TrackingClient

MAX_BATCH = 1000
MAX_NAME_CHARACTERS = 200
# Failures of a send that a later attempt may cure; any other failure drops the batch.
_TRANSIENT = (Unavailable, DeadlineExceeded, ResourceExhausted)


def name_problem(name: str) -> str | None:
    """Why the server would refuse `name` (the rules of MetricPoint.name), or None."""
    if not name:
        return "a metric name must not be empty"
    if len(name) > MAX_NAME_CHARACTERS:
        return f"a metric name holds at most {MAX_NAME_CHARACTERS} characters, got {len(name)}"
    if name[0] == " " or name[-1] == " ":
        return "a metric name must not start or end with a space"
    for character in name:
        if character != " " and unicodedata.category(character)[0] not in "LMNPS":
            return f"a metric name must not hold {character!a}"
    return None


class MetricsNotStored(RuntimeError):
    """Some points could not be stored; `error` is the server's last refusal."""

    def __init__(self, dropped: int, error: BaseException) -> None:
        super().__init__(f"{dropped} metric points were not stored: {error}")
        self.dropped = dropped
        self.error = error


class MetricBatcher:
    """Sends one execution's metric points from a background thread."""

    def __init__(
        self,
        client: TrackingClient,
        execution_id: str,
        *,
        interval: float = 0.5,
        max_queued: int = 100_000,
        give_up_after: float = 300.0,
    ) -> None:
        self.client = client
        self.execution_id = execution_id
        self.interval = interval
        self.max_queued = max_queued
        self.give_up_after = give_up_after
        self._queued: deque[metric_pb2.MetricPoint] = deque()
        self._lock = threading.Condition()
        self._added = 0  # points queued so far
        self._done = 0  # points stored or dropped so far
        self._dropped = 0
        self._error: BaseException | None = None
        self._stopping = False
        self._wanted = 0  # points a flush waits for
        self._last_seq: int | None = None  # the execution's last point seq, once known
        self._thread = threading.Thread(target=self._run, name="tracking-metrics", daemon=True)
        self._thread.start()
        self._at_exit = weakref.WeakMethod(self.close)
        atexit.register(self._close_at_exit)

    def _close_at_exit(self) -> None:
        close = self._at_exit()
        if close is not None:
            close()

    def add(
        self, name: str, value: float, step: int | None = None, time: dt.datetime | None = None
    ) -> None:
        """Queue one point (its time is now unless given); blocks only while `max_queued`
        points wait for a server that is away."""
        problem = name_problem(name)
        if problem:
            raise ValueError(problem)
        if step is not None and step < 0:
            raise ValueError(f"a metric step must not be negative, got {step}")
        point = metric_pb2.MetricPoint(
            name=name, value=float(value), time=to_timestamp(time or dt.datetime.now(dt.UTC))
        )
        if step is not None:
            point.step = step
        with self._lock:
            if self._stopping:
                raise RuntimeError("this execution's metrics were closed")
            while len(self._queued) >= self.max_queued:
                self._lock.wait()
            self._queued.append(point)
            self._added += 1
            if len(self._queued) >= MAX_BATCH:
                self._lock.notify_all()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every point queued before this call was stored; raises
        MetricsNotStored if any point could not be (then forgets it) and TimeoutError after
        `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._added
            self._wanted = max(self._wanted, target)
            self._lock.notify_all()
            while self._done < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"{target - self._done} metric points are still queued")
                self._lock.wait(remaining)
            if self._error is not None:
                error, dropped = self._error, self._dropped
                self._error, self._dropped = None, 0
                raise MetricsNotStored(dropped, error)

    def close(self) -> None:
        """Flush what is queued and stop the thread (the client stays open)."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._lock.notify_all()
        self._thread.join()
        atexit.unregister(self._close_at_exit)

    def _take(self) -> list[metric_pb2.MetricPoint] | None:
        """The next batch: a full one, what waited `interval`, or what a flush waits for;
        None once stopped with nothing left."""
        with self._lock:
            deadline = time.monotonic() + self.interval
            while (
                len(self._queued) < MAX_BATCH and not self._stopping and self._wanted <= self._done
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if self._queued:
                        break
                    deadline, remaining = time.monotonic() + self.interval, self.interval
                self._lock.wait(remaining)
            if not self._queued:
                return None
            count = min(MAX_BATCH, len(self._queued))
            batch = [self._queued.popleft() for _ in range(count)]
            self._lock.notify_all()
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            error = self._send(batch)
            with self._lock:
                self._done += len(batch)
                if error is not None:
                    self._dropped += len(batch)
                    self._error = error
                self._lock.notify_all()

    def _send(self, batch: list[metric_pb2.MetricPoint]) -> BaseException | None:
        """Store the batch once; the error that made it give up, if any."""
        started = time.monotonic()
        delay = 0.2
        before: int | None = None
        while True:
            try:
                if self._last_seq is None:
                    self._last_seq = self.client.list_metrics(self.execution_id).last_seq
                before = self._last_seq
                self._last_seq = self.client.log_metrics(self.execution_id, batch)
                return None
            except _TRANSIENT as error:
                if time.monotonic() - started > self.give_up_after:
                    return error
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                if before is not None and self._stored_meanwhile(before, len(batch)):
                    return None
            except RemoteException as error:
                return error

    def _stored_meanwhile(self, before: int, count: int) -> bool:
        """Whether the batch sent after seq `before` was stored although its answer was lost."""
        try:
            last_seq = self.client.list_metrics(self.execution_id).last_seq
        except _TRANSIENT:
            self._last_seq = before
            return False
        self._last_seq = last_seq
        return last_seq >= before + count
