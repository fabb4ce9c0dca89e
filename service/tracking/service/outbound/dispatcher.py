"""The dispatcher: for each active subscription whose lease this replica holds, a worker
sends the events after its cursor, in commit order per execution (executions in parallel
up to a bound), and moves the cursor only once the receiver acknowledged them. A second
worker does the same with the deployments' events and their own cursor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tracking.service.domain.clock import utcnow
from tracking.service.domain.subscriptions import (
    Filter,
    RetrySchedule,
    Target,
    deployment_kind_of,
    kind_of,
    published_deployment_subject,
    published_subject,
)
from tracking.service.events.hub import EventHub, HubClosed, Topic
from tracking.service.operations.outbox import DeploymentOutboxEvent, Outbox, OutboxEvent
from tracking.service.operations.subscriptions import filter_of
from tracking.service.outbound import cloud_events
from tracking.service.outbound.attempts import Outcome
from tracking.service.outbound.nats_publisher import NatsPublisher
from tracking.service.outbound.webhook import WebhookSender
from tracking.service.store.models import DeliveryRow, SubscriptionRow

log = logging.getLogger("tracking.outbound")
# Events read after a cursor at once.
BATCH = 500
# A worker looks at the table this often even without a wake-up (a commit the hub missed;
# the deployments' events, which the hub does not carry).
POLL_SECONDS = 1.0
# How long a stop waits for the workers to end.
STOP_SECONDS = 5.0
# The two logs a subscription follows: the executions' events and the deployments'.
EXECUTIONS = "cursor"
DEPLOYMENTS = "deployment_cursor"

Event = OutboxEvent | DeploymentOutboxEvent


@dataclass(frozen=True)
class DeliveryPolicy:
    source: str
    parallelism: int
    max_age_seconds: float
    schedule: RetrySchedule


class GiveUp(Exception):
    """The receiver failed for longer than the maximum age, or said 410 Gone."""


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        hub: EventHub,
        policy: DeliveryPolicy,
        webhooks: WebhookSender,
        nats_publisher: NatsPublisher,
        lease_seconds: float,
    ) -> None:
        self.outbox = outbox
        self.hub = hub
        self.policy = policy
        self.webhooks = webhooks
        self.nats = nats_publisher
        self.lease_seconds = lease_seconds
        self.workers: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def run_forever(self) -> None:
        try:
            while True:
                try:
                    await self._rebalance()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("cannot claim subscriptions; trying again")
                await asyncio.sleep(self.lease_seconds / 3)
        finally:
            await self._stop_workers()

    async def _rebalance(self) -> None:
        """Renew the leases held, take free ones, and run one worker per held subscription."""
        held = {row.subscription_id: row for row in await self.outbox.claim_active()}
        for key, task in list(self.workers.items()):
            if key[0] not in held or task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                del self.workers[key]
        for subscription_id, row in held.items():
            for log_name in (EXECUTIONS, DEPLOYMENTS):
                if (subscription_id, log_name) not in self.workers:
                    self.workers[subscription_id, log_name] = asyncio.create_task(
                        SubscriptionWorker(self, row, log_name).run(),
                        name=f"outbound-{subscription_id}-{log_name}",
                    )

    async def _stop_workers(self) -> None:
        for task in self.workers.values():
            task.cancel()
        if self.workers:
            # Bounded: a worker that does not end (a swallowed cancellation) must not hold
            # the server's stop.
            _, stuck = await asyncio.wait(self.workers.values(), timeout=STOP_SECONDS)
            if stuck:
                log.warning("%d subscription workers did not stop in time", len(stuck))
        for subscription_id in dict.fromkeys(key[0] for key in self.workers):
            with contextlib.suppress(Exception):
                await asyncio.shield(self.outbox.release(subscription_id))
        self.workers.clear()
        await self.webhooks.close()
        await self.nats.close()

    async def send(self, row: SubscriptionRow, event: Event) -> Outcome:
        message_id = cloud_events.event_id(event)
        if isinstance(event, DeploymentOutboxEvent):
            body = cloud_events.encode_deployment(event, self.policy.source)
            subject = published_deployment_subject(row.subject, event.deployment_name)
        else:
            body = cloud_events.encode(event, self.policy.source)
            subject = published_subject(row.subject, event.deployment_name, event.execution_id)
        if row.target == Target.WEBHOOK:
            return await self.webhooks.send(row.url, row.signing_secret, message_id, body)
        return await self.nats.publish(row.subject, subject, message_id, body)

    async def send_test(self, row: SubscriptionRow) -> DeliveryRow:
        """One test event to the subscription's target (TestSubscription)."""
        now = utcnow()
        message_id, body = cloud_events.encode_test(self.policy.source, row.subscription_id, now)
        if row.target == Target.WEBHOOK:
            outcome = await self.webhooks.send(row.url, row.signing_secret, message_id, body)
        else:
            subject = published_subject(row.subject, "test", row.subscription_id)
            outcome = await self.nats.publish(row.subject, subject, message_id, body)
        return attempt_row(row.subscription_id, message_id, None, 1, now, outcome)


def attempt_row(
    subscription_id: str,
    message_id: str,
    event: Event | None,
    attempt: int,
    at: datetime,
    outcome: Outcome,
) -> DeliveryRow:
    execution = event if isinstance(event, OutboxEvent) else None
    return DeliveryRow(
        subscription_id=subscription_id,
        event_id=message_id,
        execution_id=execution.execution_id if execution else "",
        revision=execution.revision if execution else 0,
        attempt_time=at,
        attempt=attempt,
        http_status=outcome.http_status,
        latency_seconds=outcome.latency_seconds,
        succeeded=outcome.succeeded,
        error=outcome.error,
    )


class SubscriptionWorker:
    """Delivers one log (EXECUTIONS or DEPLOYMENTS) of events to one subscription."""

    def __init__(self, dispatcher: Dispatcher, row: SubscriptionRow, log_name: str) -> None:
        self.dispatcher = dispatcher
        self.outbox = dispatcher.outbox
        self.policy = dispatcher.policy
        self.row = row
        self.log_name = log_name
        self.filter: Filter = filter_of(row)
        self.cursor = row.deployment_cursor if log_name == DEPLOYMENTS else row.cursor
        self.failing_since: datetime | None = row.failing_since
        self.attempts: list[DeliveryRow] = []
        self.delivered: set[int] = set()

    async def run(self) -> None:
        subscription_id = self.row.subscription_id
        this = asyncio.current_task()
        try:
            with self.dispatcher.hub.subscribe(Topic("all"), "outbound") as wake:
                while True:
                    if this is not None and this.cancelling():
                        # A cancellation a database call swallowed (seen on a lost
                        # connection): stop anyway, or the server's drain waits forever.
                        raise asyncio.CancelledError
                    events = await self._events_after()
                    if not events:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(wake.next(), POLL_SECONDS)
                        continue
                    if not await self.outbox.still_held(subscription_id):
                        return
                    if not await self._deliver_batch(events):
                        return
        except (HubClosed, GiveUp):
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("subscription %s stopped; it is taken up again", subscription_id)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._flush_attempts())

    async def _events_after(self) -> Sequence[Event]:
        if self.log_name == DEPLOYMENTS:
            return await self.outbox.deployment_events_after(self.cursor, BATCH)
        return await self.outbox.events_after(self.cursor, BATCH)

    def _matches(self, event: Event) -> bool:
        if isinstance(event, DeploymentOutboxEvent):
            # A deployment's event has no status: a filter with statuses admits none.
            return self.filter.admits(event.deployment_name, deployment_kind_of(event.kind), "")
        kind = kind_of(event.changes.split(","))
        return self.filter.admits(event.deployment_name, kind, event.job_status.get("status", ""))

    async def _deliver_batch(self, events: Sequence[Event]) -> bool:
        """Deliver the matching events of a batch; then move the cursor past it. False when
        the lease is lost."""
        matched = [event for event in events if self._matches(event)]
        # In order per execution (per deployment for the deployments' own events).
        by_execution: dict[str, list[Event]] = {}
        for event in matched:
            key = (
                event.deployment_name
                if isinstance(event, DeploymentOutboxEvent)
                else event.execution_id
            )
            by_execution.setdefault(key, []).append(event)
        self.delivered.clear()
        limit = asyncio.Semaphore(self.policy.parallelism)
        try:
            async with asyncio.TaskGroup() as group:
                for sequence in by_execution.values():
                    group.create_task(self._deliver_in_order(sequence, limit))
        except* GiveUp:
            # Keep what was delivered before the first event that was not.
            pending = [event.id for event in matched if event.id not in self.delivered]
            if pending:
                await self._advance(min(pending) - 1, False)
            await self._flush_attempts()
            raise GiveUp from None
        return await self._advance(events[-1].id, bool(matched))

    async def _advance(self, cursor: int, delivered: bool) -> bool:
        """Move the cursor and record the attempts made, in one transaction."""
        attempts, self.attempts = self.attempts, []
        if cursor <= self.cursor:
            await self.outbox.record(self.row.subscription_id, attempts)
            return True
        moved = await self.outbox.advance(
            self.row.subscription_id,
            cursor,
            utcnow() if delivered else None,
            attempts,
            self.log_name,
        )
        if moved:
            self.cursor = cursor
        return moved

    async def _deliver_in_order(self, sequence: list[Event], limit: asyncio.Semaphore) -> None:
        async with limit:
            for event in sequence:
                await self._deliver(event)

    async def _deliver(self, event: Event) -> None:
        attempt = 0
        message_id = cloud_events.event_id(event)
        while True:
            attempt += 1
            at = utcnow()
            outcome = await self.dispatcher.send(self.row, event)
            self.attempts.append(
                attempt_row(self.row.subscription_id, message_id, event, attempt, at, outcome)
            )
            if outcome.succeeded:
                self.failing_since = None
                self.delivered.add(event.id)
                return
            now = utcnow()
            if self.failing_since is None:
                self.failing_since = at
            too_old = (now - self.failing_since).total_seconds() >= self.policy.max_age_seconds
            give_up = outcome.gone or too_old
            error = outcome.error
            if give_up:
                error = (
                    f"{error} (the receiver asked for no more: 410 Gone)"
                    if outcome.gone
                    else f"{error} (failing for {self.policy.max_age_seconds:g} s)"
                )
            await self._flush_attempts()
            await self.outbox.note_failure(
                self.row.subscription_id, error, self.failing_since, give_up
            )
            if give_up:
                log.warning("subscription %s marked failing: %s", self.row.subscription_id, error)
                raise GiveUp
            await asyncio.sleep(self.policy.schedule.delay(attempt, outcome.retry_after))

    async def _flush_attempts(self) -> None:
        attempts, self.attempts = self.attempts, []
        await self.outbox.record(self.row.subscription_id, attempts)
