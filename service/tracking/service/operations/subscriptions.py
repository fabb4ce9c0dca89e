"""Subscriptions (admin): create (a webhook's secret shown once), get, list, delete, pause,
resume, and the delivery log."""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol

from tracking.service.domain import subscriptions as rules
from tracking.service.domain.clock import utcnow
from tracking.service.domain.errors import (
    InvalidArgument,
    NotFound,
    Unavailable,
    ValidationCollector,
)
from tracking.service.domain.names import check_deployment_name, check_request_id
from tracking.service.domain.subscriptions import (
    DeliveryView,
    Filter,
    State,
    SubscriptionDraft,
    SubscriptionView,
    Target,
)
from tracking.service.store import deployments as deployment_store
from tracking.service.store import outbox as outbox_store
from tracking.service.store import subscriptions as store
from tracking.service.store.database import Database
from tracking.service.store.models import DeliveryRow, SubscriptionRow

MAX_DELIVERIES_LISTED = 1000
DEFAULT_DELIVERIES_LISTED = 50


def view_of(row: SubscriptionRow) -> SubscriptionView:
    return SubscriptionView(
        subscription_id=row.subscription_id,
        name=row.name,
        target=Target(row.target),
        url=row.url,
        subject=row.subject,
        filter=filter_of(row),
        state=State(row.state),
        cursor=row.cursor,
        last_error=row.last_error,
        last_error_time=row.last_error_time,
        failing_since=row.failing_since,
        last_delivery_time=row.last_delivery_time,
        create_time=row.create_time,
        created_by=row.created_by,
    )


def filter_of(row: SubscriptionRow) -> Filter:
    return Filter(
        tuple(row.deployment_names),
        tuple(rules.EventKind(kind) for kind in row.kinds),
        tuple(row.statuses),
    )


def delivery_view(row: DeliveryRow) -> DeliveryView:
    return DeliveryView(
        event_id=row.event_id,
        execution_id=row.execution_id,
        revision=row.revision,
        attempt_time=row.attempt_time,
        attempt=row.attempt,
        http_status=row.http_status,
        latency_seconds=row.latency_seconds,
        succeeded=row.succeeded,
        error=row.error,
    )


async def resolved_addresses(host: str, port: int) -> list[str]:
    """Every address a host name resolves to (an IP literal is itself)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def refused_host(host: str, port: int, allow_private: bool) -> str | None:
    """Why a webhook host may not be reached: it does not resolve, or one of its addresses
    is in a refused range (unless `allow_private`); None when it may."""
    try:
        addresses = await resolved_addresses(host, port)
    except (OSError, UnicodeError) as error:
        return f"host {host!r} does not resolve: {error}"
    if allow_private:
        return None
    for address in addresses:
        reason = rules.refused_address(address)
        if reason is not None:
            return (
                f"resolves to {address}, a {reason} address; outbound calls to such addresses"
                " are refused (setting outbound_allow_private_addresses)"
            )
    return None


class TestSender(Protocol):
    """Sends one test event to a subscription's target now (outbound/ provides it)."""

    async def send_test(self, row: SubscriptionRow) -> DeliveryRow: ...


class Subscriptions:
    def __init__(self, db: Database, allow_private_addresses: bool = False) -> None:
        self.db = db
        self.allow_private_addresses = allow_private_addresses
        self.tester: TestSender | None = None

    async def create(
        self, draft: SubscriptionDraft, created_by: str
    ) -> tuple[SubscriptionView, str]:
        """The subscription and, for a new webhook, its signing secret (else "")."""
        errors = ValidationCollector()
        rules.check_name(errors, draft.name)
        if draft.request_id:
            check_request_id(errors, "request_id", draft.request_id)
        host = None
        if draft.target is None:
            errors.add("subscription.target", "is required: a webhook or a NATS subject")
        elif draft.target is Target.WEBHOOK:
            host = rules.url_host(errors, draft.url)
        else:
            rules.check_subject(errors, draft.subject)
        for index, name in enumerate(draft.filter.deployment_names):
            check_deployment_name(errors, f"subscription.filter.deployment_names[{index}]", name)
        errors.raise_if_any()
        if host is not None:
            port = 443 if draft.url.lower().startswith("https:") else 80
            reason = await refused_host(host, port, self.allow_private_addresses)
            if reason is not None:
                raise InvalidArgument.of("subscription.webhook.url", reason)
        assert draft.target is not None
        secret = rules.new_signing_secret() if draft.target is Target.WEBHOOK else ""
        async with self.db.writing() as session:
            if draft.request_id:
                earlier = await store.by_request_id(session, draft.request_id)
                if earlier is not None:
                    return view_of(earlier), ""
            for name in draft.filter.deployment_names:
                if not await deployment_store.exists_named(session, name):
                    raise NotFound("deployment", name)
            row = SubscriptionRow(
                subscription_id=rules.new_subscription_id(),
                name=draft.name.strip(),
                target=draft.target.value,
                url=draft.url,
                subject=draft.subject
                or (rules.DEFAULT_SUBJECT if draft.target is Target.NATS else ""),
                signing_secret=secret,
                deployment_names=list(dict.fromkeys(draft.filter.deployment_names)),
                kinds=list(dict.fromkeys(kind.value for kind in draft.filter.kinds)),
                statuses=list(dict.fromkeys(draft.filter.statuses)),
                state=State.ACTIVE.value,
                # Only what happens from now on is delivered.
                cursor=await outbox_store.last_event_id(session),
                deployment_cursor=await outbox_store.last_deployment_event_id(session),
                create_time=utcnow(),
                created_by=created_by,
                request_id=draft.request_id or None,
            )
            session.add(row)
        return view_of(row), secret

    async def _row(self, subscription_id: str) -> SubscriptionRow:
        self._check_id(subscription_id)
        async with self.db.reading() as session:
            row = await store.find(session, subscription_id)
        if row is None:
            raise NotFound("subscription", subscription_id)
        return row

    @staticmethod
    def _check_id(subscription_id: str) -> None:
        if not rules.SUBSCRIPTION_ID.fullmatch(subscription_id):
            raise InvalidArgument.of(
                "subscription_id", "is not a subscription id (sub_ and 12 hex digits)"
            )

    async def get(self, subscription_id: str) -> SubscriptionView:
        return view_of(await self._row(subscription_id))

    async def secret_row(self, subscription_id: str) -> SubscriptionRow:
        """The row with its secret, for sending (never for showing)."""
        return await self._row(subscription_id)

    async def list_all(self) -> list[SubscriptionView]:
        async with self.db.reading() as session:
            return [view_of(row) for row in await store.listed(session)]

    async def delete(self, subscription_id: str) -> None:
        self._check_id(subscription_id)
        async with self.db.writing() as session:
            if await store.find(session, subscription_id, lock=True) is None:
                raise NotFound("subscription", subscription_id)
            await store.delete_one(session, subscription_id)

    async def set_state(self, subscription_id: str, state: State) -> SubscriptionView:
        """Pause, or resume (from the cursor, with the failure forgotten)."""
        self._check_id(subscription_id)
        async with self.db.writing() as session:
            row = await store.find(session, subscription_id, lock=True)
            if row is None:
                raise NotFound("subscription", subscription_id)
            row.state = state.value
            if state is State.ACTIVE:
                row.failing_since = None
            session.add(row)
        return view_of(row)

    async def test(self, subscription_id: str) -> DeliveryView:
        """Send a test event now; the attempt is recorded with the others."""
        row = await self._row(subscription_id)
        if self.tester is None:
            raise Unavailable("this server sends no events")
        attempt = await self.tester.send_test(row)
        async with self.db.writing() as session:
            await store.add_deliveries(session, [attempt])
        return delivery_view(attempt)

    async def deliveries(self, subscription_id: str, page_size: int) -> list[DeliveryView]:
        self._check_id(subscription_id)
        if page_size < 0:
            raise InvalidArgument.of("page_size", "must not be negative")
        limit = min(page_size or DEFAULT_DELIVERIES_LISTED, MAX_DELIVERIES_LISTED)
        async with self.db.reading() as session:
            if await store.find(session, subscription_id) is None:
                raise NotFound("subscription", subscription_id)
            return [
                delivery_view(row)
                for row in await store.deliveries(session, subscription_id, limit)
            ]
