"""The in-process hub: hands each committed change to the watchers it concerns.

The database stays the truth: a watcher that finds a gap between what it has
sent and what the hub hands it reads the gap from the table. The hub only
saves watchers from polling, and lets a change reach them without a query.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from tracking.service.store.models import ExecutionEventRow


class HubClosed(Exception):
    """The server is shutting down."""


class WatcherOverflow(Exception):
    """The watcher fell further behind than its queue allows."""


@dataclass(frozen=True)
class Topic:
    """What a subscription listens to: kind is "execution", "deployment", "all" or "logs"."""

    kind: str
    key: str = ""


class Subscription:
    """A bounded queue of events (or wake-ups) for one watcher."""

    def __init__(self, hub: EventHub, topic: Topic, capacity: int) -> None:
        self._hub = hub
        self.topic = topic
        self._queue: asyncio.Queue[ExecutionEventRow | None] = asyncio.Queue(capacity)
        self.overflowed = False

    def offer(self, event: ExecutionEventRow | None) -> None:
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # The watcher is not blocked (its queue is full): its next() sees the flag.
            self.overflowed = True

    def wake(self) -> None:
        """A wake-up with no event (logs committed, or a change on another replica)."""
        if self._queue.empty():
            self._queue.put_nowait(None)

    async def next(self, idle_seconds: float) -> ExecutionEventRow | None:
        """The next event; None on a wake-up without event. TimeoutError when idle."""
        if self._hub.closed:
            raise HubClosed
        if self.overflowed:
            raise WatcherOverflow
        item = await asyncio.wait_for(self._queue.get(), idle_seconds)
        if self._hub.closed:
            raise HubClosed
        if self.overflowed:
            raise WatcherOverflow
        return item

    def close(self) -> None:
        self._hub.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventHub:
    def __init__(self, queue_capacity: int = 1024) -> None:
        self.queue_capacity = queue_capacity
        self._subscribers: dict[Topic, set[Subscription]] = defaultdict(set)
        self.closed = False

    @property
    def watcher_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def subscribe(self, topic: Topic) -> Subscription:
        if self.closed:
            raise HubClosed
        subscription = Subscription(self, topic, self.queue_capacity)
        self._subscribers[topic].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.topic)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.topic]

    def publish(self, events: Iterable[ExecutionEventRow]) -> None:
        """Hand committed events to their watchers (call after the commit)."""
        for event in events:
            for subscription in self._subscribers.get(Topic("execution", event.execution_id), ()):
                subscription.offer(event)
            # Deployment-wide and service-wide watchers read the table in id order.
            if event.deployment_name:
                for subscription in self._subscribers.get(
                    Topic("deployment", event.deployment_name), ()
                ):
                    subscription.wake()
            for subscription in self._subscribers.get(Topic("all"), ()):
                subscription.wake()
            # Log followers stop once the execution has ended: let them look.
            self.publish_logs(event.execution_id)

    def publish_logs(self, execution_id: str) -> None:
        for subscription in self._subscribers.get(Topic("logs", execution_id), ()):
            subscription.wake()

    def wake_all(self) -> None:
        """Make every watcher re-read the table (a change may have come from elsewhere)."""
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription.wake()

    def close(self) -> None:
        """End every stream: each watcher's next() raises HubClosed."""
        self.closed = True
        self.wake_all()
