"""What the dispatcher does with the store: leases on subscriptions, the events after a
cursor, the cursor's advance (only by the lease holder), failures and delivery attempts."""

from __future__ import annotations

from datetime import datetime, timedelta

from tracking.service.domain.clock import utcnow
from tracking.service.domain.subscriptions import State
from tracking.service.store import outbox as outbox_store
from tracking.service.store import subscriptions as store
from tracking.service.store.database import Database
from tracking.service.store.models import DeliveryRow, SubscriptionRow
from tracking.service.store.outbox import DeploymentOutboxEvent, OutboxEvent

# Delivery attempts kept per subscription.
DELIVERIES_KEPT = 1000

__all__ = ["DeploymentOutboxEvent", "Outbox", "OutboxEvent"]


class Outbox:
    def __init__(self, db: Database, owner: str, lease: timedelta) -> None:
        self.db = db
        self.owner = owner
        self.lease = lease

    async def claim_active(self) -> list[SubscriptionRow]:
        """Active subscriptions whose lease this replica holds now (taken or renewed)."""
        async with self.db.reading() as session:
            active = await store.active_ids(session)
        if not active:
            return []
        now = utcnow()
        held = []
        async with self.db.writing() as session:
            for subscription_id in active:
                if await store.claim(session, subscription_id, self.owner, now, now + self.lease):
                    held.append(subscription_id)
        if not held:
            return []
        async with self.db.reading() as session:
            rows = [await store.find(session, subscription_id) for subscription_id in held]
        return [row for row in rows if row is not None]

    async def still_held(self, subscription_id: str) -> bool:
        """Whether the subscription is still active and leased to this replica (an admin may
        have paused or deleted it since)."""
        async with self.db.reading() as session:
            row = await store.find(session, subscription_id)
        return row is not None and row.state == State.ACTIVE and row.lease_owner == self.owner

    async def release(self, subscription_id: str) -> None:
        async with self.db.writing() as session:
            await store.release(session, subscription_id, self.owner)

    async def events_after(self, cursor: int, limit: int) -> list[OutboxEvent]:
        async with self.db.reading() as session:
            return await outbox_store.events_after(session, cursor, limit)

    async def deployment_events_after(self, cursor: int, limit: int) -> list[DeploymentOutboxEvent]:
        async with self.db.reading() as session:
            return await outbox_store.deployment_events_after(session, cursor, limit)

    async def advance(
        self,
        subscription_id: str,
        cursor: int,
        delivered_at: datetime | None,
        attempts: list[DeliveryRow],
        column: str = "cursor",
    ) -> bool:
        """Move the cursor (or `deployment_cursor`) and record the attempts that led there;
        False (and nothing written) when this replica no longer holds the subscription."""
        async with self.db.writing() as session:
            moved = await store.advance(
                session, subscription_id, self.owner, cursor, delivered_at, column
            )
            if moved and attempts:
                await store.record_attempts(session, subscription_id, attempts, DELIVERIES_KEPT)
        return moved

    async def note_failure(
        self, subscription_id: str, error: str, failing_since: datetime, give_up: bool
    ) -> bool:
        state = State.FAILING if give_up else State.ACTIVE
        async with self.db.writing() as session:
            return await store.note_failure(
                session, subscription_id, self.owner, error, utcnow(), failing_since, state.value
            )

    async def record(self, subscription_id: str, attempts: list[DeliveryRow]) -> None:
        if not attempts:
            return
        async with self.db.writing() as session:
            await store.record_attempts(session, subscription_id, attempts, DELIVERIES_KEPT)
