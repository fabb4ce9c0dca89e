"""The in-process hub: hands each committed change to the watchers it concerns.

The database stays the truth: a watcher that finds a gap between what it has
sent and what the hub hands it reads the gap from the table. The hub only
saves watchers from polling, and lets a change reach them without a query.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tracking.service.domain.changes import Change, of_stored
from tracking.service.domain.events import ExecutionEvent
from tracking.service.domain.status import TERMINAL_VALUES


class HubClosed(Exception):
    """The server is shutting down."""


class WatcherOverflow(Exception):
    """The watcher fell further behind than its queue allows."""


class TooManyWatchers(Exception):
    """The principal already has as many open streams as it may."""


@dataclass(frozen=True)
class Topic:
    """What a subscription listens to: kind is "execution", "deployment", "all", "logs" (of
    one execution), "deployment_logs" (of every execution of a deployment) or "metrics" (the
    metric points of one execution)."""

    kind: str
    key: str = ""


@dataclass(eq=False, slots=True)
class SharedEvent:
    """One committed event as every watcher receives it.

    What every watcher asks of it is worked out once, not once per watcher: `ends` (it ends
    its execution's watches: an end, or its deletion), and `encoded`, where the first
    watcher that serializes it leaves the bytes for the others.
    """

    row: ExecutionEvent
    ends: bool = False
    encoded: dict[str, bytes] = field(default_factory=dict)


def _ends(row: ExecutionEvent, changes: list[Change]) -> bool:
    """Whether the event ends its execution's logs and metrics (an end, or its deletion)."""
    return Change.DELETED in changes or row.job_status.get("status") in TERMINAL_VALUES


IDLE = object()
"""What Subscription.next returns when nothing happened for a heartbeat interval."""

# How far a log follower may fall behind before it is closed, in characters of lines
# (bytes, for ASCII).
DEFAULT_BACKLOG_CHARS = 16 << 20


class Subscription:
    """A bounded queue of events (or wake-ups, None) for one watcher.

    Waiting costs one future and no timer: the hub's ticker resolves the
    futures of watchers that stayed idle for a heartbeat interval.

    A log follower is handed no lines, only wake-ups; what bounds it is the size of the
    lines committed while it was not waiting for the hub (sending, or stuck sending to a
    reader that stopped reading): past `backlog_chars` characters of them, it overflowed.
    """

    def __init__(
        self,
        hub: EventHub,
        topic: Topic,
        principal: str,
        capacity: int,
        backlog_chars: int = DEFAULT_BACKLOG_CHARS,
    ) -> None:
        self._hub = hub
        self.topic = topic
        self.principal = principal
        self._capacity = capacity
        self._backlog_chars = backlog_chars
        self._items: deque[SharedEvent | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.overflowed = False
        # Characters of lines committed since the watcher last looked at the hub.
        self.behind_chars = 0
        # Called once when the queue overflows: a transport whose reader stopped reading
        # closes the stream then, without waiting for the watcher to take its next item.
        self.on_overflow: Callable[[], None] | None = None
        # Where the watcher's stream resumes, for the message that closes it.
        self.resume_from = "the last message received"
        self.active_at = time.monotonic()

    def _resolve(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def offer(self, event: SharedEvent) -> None:
        if self.overflowed:
            return
        if len(self._items) >= self._capacity:
            self._overflow()
        else:
            self._items.append(event)
        self._resolve()

    def _overflow(self) -> None:
        self.overflowed = True
        if self.on_overflow is not None:
            self.on_overflow()

    def grew(self, size: int) -> None:
        """Lines of `size` characters were committed: a watcher waiting for the hub looks
        at the table; one busy elsewhere finds them when it next looks, unless it fell
        more than `backlog_chars` behind."""
        if self._waiter is None and not self.overflowed:
            self.behind_chars += size
            if self.behind_chars > self._backlog_chars:
                self._overflow()
        self.wake()

    def wake(self) -> None:
        """Make the watcher look at the table (a change it was not handed, or shutdown)."""
        if not self._items:
            self._items.append(None)
        self._resolve()

    def tick(self, now: float, idle_seconds: float) -> None:
        if self._waiter is not None and now - self.active_at >= idle_seconds:
            self._resolve()

    @property
    def depth(self) -> int:
        return len(self._items)

    async def next(self) -> SharedEvent | object | None:
        """The next event; None on a wake-up without event; IDLE after a quiet interval."""
        if not self._items and not self._hub.closed and not self.overflowed:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._hub.closed:
            raise HubClosed
        if self.overflowed:
            raise WatcherOverflow
        self.active_at = time.monotonic()
        self.behind_chars = 0
        return self._items.popleft() if self._items else IDLE

    def close(self) -> None:
        self._hub.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventHub:
    def __init__(
        self,
        queue_capacity: int = 1024,
        max_watchers_per_principal: int = 10_000,
        heartbeat_seconds: float = 15.0,
        backlog_chars: int = DEFAULT_BACKLOG_CHARS,
    ) -> None:
        self.queue_capacity = queue_capacity
        self.backlog_chars = backlog_chars
        self.max_watchers_per_principal = max_watchers_per_principal
        self.heartbeat_seconds = heartbeat_seconds
        self._ticker: asyncio.Task[None] | None = None
        self._subscribers: dict[Topic, set[Subscription]] = defaultdict(set)
        self._per_principal: dict[str, int] = defaultdict(int)
        self.closed = False
        self.events_fanned_out = 0
        # Moves before the deployment-wide and service-wide watchers are woken: reads of the
        # table made before it moved may miss what woke them (operations/shared_reads.py).
        self.table_version = 0

    @property
    def watcher_count(self) -> int:
        return sum(self._per_principal.values())

    def queue_depths(self) -> list[int]:
        return [s.depth for subscribers in self._subscribers.values() for s in subscribers]

    def subscribe(self, topic: Topic, principal: str = "") -> Subscription:
        if self.closed:
            raise HubClosed
        if self._per_principal[principal] >= self.max_watchers_per_principal:
            raise TooManyWatchers
        subscription = Subscription(self, topic, principal, self.queue_capacity, self.backlog_chars)
        self._subscribers[topic].add(subscription)
        self._per_principal[principal] += 1
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.topic)
        if subscribers is None or subscription not in subscribers:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscribers[subscription.topic]
        self._per_principal[subscription.principal] -= 1
        if not self._per_principal[subscription.principal]:
            del self._per_principal[subscription.principal]

    def _wake(self, topic: Topic) -> None:
        for subscription in self._subscribers.get(topic, ()):
            subscription.wake()

    def publish(self, events: Iterable[ExecutionEvent]) -> None:
        """Hand committed events to their watchers: this process's (after the commit) and
        those another replica's announcement carried."""
        for row in events:
            changes = of_stored(row.changes)
            ends = _ends(row, changes)
            shared = SharedEvent(row, ends)
            # Each watcher is handed the event and woken; none runs here: sending is theirs.
            watchers = self._subscribers.get(Topic("execution", row.execution_id), ())
            for subscription in watchers:
                subscription.offer(shared)
            self.events_fanned_out += len(watchers)
            self._wake_table_readers(row.execution_id, row.deployment_name)
            # Log and metric followers look only when the execution ends (lines and points
            # wake them on their own): a progress report costs them nothing. A deployment's
            # log followers also take up new executions.
            if ends:
                self._wake_enders(row.execution_id)
            if row.deployment_name and (Change.CREATED in changes or ends):
                self._wake(Topic("deployment_logs", row.deployment_name))

    def changed_elsewhere(self, execution_id: str, deployment_name: str | None) -> None:
        """Another replica committed an event its announcement did not carry: the watchers
        here read the table."""
        self._wake(Topic("execution", execution_id))
        self._wake_table_readers(execution_id, deployment_name)
        self._wake_enders(execution_id)
        # The announcement does not say what changed: the deployment's log followers look.
        if deployment_name:
            self._wake(Topic("deployment_logs", deployment_name))

    def _wake_table_readers(self, execution_id: str, deployment_name: str | None) -> None:
        # Deployment-wide and service-wide watchers read the table in id order.
        self.table_version += 1
        if deployment_name:
            self._wake(Topic("deployment", deployment_name))
        self._wake(Topic("all"))

    def _wake_enders(self, execution_id: str) -> None:
        # Log and metric followers stop once the execution has ended: let them look.
        self._wake(Topic("logs", execution_id))
        self._wake(Topic("metrics", execution_id))

    def publish_logs(
        self, execution_id: str, deployment_name: str | None = None, size: int = 0
    ) -> None:
        """Lines of `size` characters (of messages) were committed to an execution's log."""
        self._grew(Topic("logs", execution_id), size)
        if deployment_name:
            self._grew(Topic("deployment_logs", deployment_name), size)

    def _grew(self, topic: Topic, size: int) -> None:
        for subscription in list(self._subscribers.get(topic, ())):
            subscription.grew(size)

    def publish_metrics(self, execution_id: str) -> None:
        self._wake(Topic("metrics", execution_id))

    def deployment_deleted(self, deployment_name: str) -> None:
        """Its log followers end (a deployment without executions leaves no event)."""
        self._wake(Topic("deployment_logs", deployment_name))

    def wake_all(self) -> None:
        """Make every watcher re-read the table (changes may have been missed)."""
        self.table_version += 1
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription.wake()

    def start(self) -> None:
        """Start the ticker that tells idle watchers to send a heartbeat."""
        self._ticker = asyncio.create_task(self._tick_forever(), name="tracking-hub-ticker")

    async def _tick_forever(self) -> None:
        step = self.heartbeat_seconds / 4
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            for subscribers in list(self._subscribers.values()):
                for subscription in list(subscribers):
                    subscription.tick(now, self.heartbeat_seconds)

    async def close(self) -> None:
        """End every stream: each watcher's next() raises HubClosed."""
        self.closed = True
        self.wake_all()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
