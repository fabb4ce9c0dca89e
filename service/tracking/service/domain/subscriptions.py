"""Subscriptions: identifiers, secrets, what a target may be, which events a filter admits,
and the retry schedule. Pure: resolving names and sending happen elsewhere."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import urlsplit

from tracking.service.domain.errors import ValidationCollector

SUBSCRIPTION_ID = re.compile(r"sub_[0-9a-f]{12}")
MAX_NAME = 128
MAX_URL = 2048
MAX_SUBJECT = 128
DEFAULT_SUBJECT = "tracking"
_SUBJECT_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
# What a published subject's deployment and execution tokens may hold; anything else is "_".
_UNSAFE_IN_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


class Target(StrEnum):
    WEBHOOK = "WEBHOOK"
    NATS = "NATS"


class State(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    FAILING = "FAILING"


class EventKind(StrEnum):
    """The kinds a filter chooses; each is a CloudEvent type (cloud_event_type)."""

    EXECUTION_CREATED = "EXECUTION_CREATED"
    EXECUTION_STATUS_CHANGED = "EXECUTION_STATUS_CHANGED"
    EXECUTION_UPDATED = "EXECUTION_UPDATED"
    EXECUTION_DELETED = "EXECUTION_DELETED"
    DEPLOYMENT_CREATED = "DEPLOYMENT_CREATED"
    DEPLOYMENT_UPDATED = "DEPLOYMENT_UPDATED"
    DEPLOYMENT_DELETED = "DEPLOYMENT_DELETED"


TEST_EVENT_TYPE = "dev.tracking.test.v1"


def kind_of(changes: Iterable[str]) -> EventKind:
    """The kind of an event row from its change names: creation and deletion first, then a
    status change; anything else (progress, outputs, a cancel request, kinds added later)
    is an update."""
    names = set(changes)
    if "CREATED" in names:
        return EventKind.EXECUTION_CREATED
    if "DELETED" in names:
        return EventKind.EXECUTION_DELETED
    if "STATUS" in names:
        return EventKind.EXECUTION_STATUS_CHANGED
    return EventKind.EXECUTION_UPDATED


def deployment_kind_of(change: str) -> EventKind:
    """The kind of a deployment event row (CREATED, UPDATED or DELETED)."""
    return EventKind(f"DEPLOYMENT_{change}")


def cloud_event_type(kind: EventKind) -> str:
    """dev.tracking.execution.<kind>.v1 or dev.tracking.deployment.<kind>.v1."""
    subject, _, change = kind.value.lower().partition("_")
    return f"dev.tracking.{subject}.{change}.v1"


@dataclass(frozen=True)
class Filter:
    """An empty tuple admits everything."""

    deployment_names: tuple[str, ...] = ()
    kinds: tuple[EventKind, ...] = ()
    statuses: tuple[str, ...] = ()

    def admits(self, deployment_name: str | None, kind: EventKind, status: str) -> bool:
        if self.deployment_names and (deployment_name or "") not in self.deployment_names:
            return False
        if self.kinds and kind not in self.kinds:
            return False
        return not self.statuses or status in self.statuses


def new_subscription_id() -> str:
    return f"sub_{secrets.token_hex(6)}"


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`
    under the secret's bytes (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def check_name(errors: ValidationCollector, name: str) -> None:
    if not name.strip():
        errors.add("subscription.name", "is required")
    elif len(name) > MAX_NAME:
        errors.add("subscription.name", f"at most {MAX_NAME} characters, got {len(name)}")


def url_host(errors: ValidationCollector, url: str) -> str | None:
    """The host of a webhook URL that may be used, or None (the problems added to errors)."""
    field = "subscription.webhook.url"
    if not url:
        errors.add(field, "is required")
        return None
    if len(url) > MAX_URL:
        errors.add(field, f"at most {MAX_URL} characters, got {len(url)}")
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        errors.add(field, f"is not a URL: {error}")
        return None
    if parts.scheme not in ("http", "https"):
        errors.add(field, f"must be http or https, not {parts.scheme or 'no scheme'!r}")
        return None
    if parts.username is not None or parts.password is not None:
        errors.add(field, "must not hold credentials (user:password@): sign, do not embed")
        return None
    if not parts.hostname:
        errors.add(field, "has no host")
        return None
    if any(c.isspace() for c in url):
        errors.add(field, "must not contain spaces")
        return None
    del port
    return parts.hostname


def refused_address(address: str) -> str | None:
    """Why an outbound connection to this IP address is refused by default; None if it is
    a public address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (where cloud metadata services answer)"
    if ip.is_private:
        return "private"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "not a public unicast address"
    return None


def check_subject(errors: ValidationCollector, subject: str) -> None:
    field = "subscription.nats.subject"
    if len(subject) > MAX_SUBJECT:
        errors.add(field, f"at most {MAX_SUBJECT} characters, got {len(subject)}")
        return
    if subject and not all(_SUBJECT_TOKEN.fullmatch(token) for token in subject.split(".")):
        errors.add(
            field,
            "must be tokens of letters, digits, _ and - joined by dots (no wildcards, spaces"
            " or empty tokens)",
        )


def published_subject(prefix: str, deployment_name: str | None, execution_id: str) -> str:
    """`<prefix>.<deployment>.<execution>`, each name made a single safe token."""

    def token(value: str) -> str:
        return _UNSAFE_IN_TOKEN.sub("_", value) or "_"

    return f"{prefix or DEFAULT_SUBJECT}.{token(deployment_name or '')}.{token(execution_id)}"


def published_deployment_subject(prefix: str, deployment_name: str) -> str:
    """`<prefix>.<deployment>._deployment`: a deployment's own events, beside its
    executions'."""
    return published_subject(prefix, deployment_name, "_deployment")


def stream_name(prefix: str) -> str:
    """The JetStream stream created for a subject prefix when none holds it."""
    return "TRACKING_" + re.sub(r"[^A-Za-z0-9_-]", "_", prefix or DEFAULT_SUBJECT).upper()


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential backoff with jitter: attempt n is followed by a wait drawn between half
    and all of base * 2**(n-1), at most `cap`; a receiver's Retry-After is honoured up to
    `cap`."""

    base_seconds: float = 0.5
    cap_seconds: float = 60.0

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        jittered = (rng or random).uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            return min(self.cap_seconds, max(jittered, retry_after))
        return jittered


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class SubscriptionDraft:
    """What CreateSubscription asks for, before it is checked."""

    name: str
    target: Target | None
    url: str = ""
    subject: str = ""
    filter: Filter = Filter()
    request_id: str = ""


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as the API shows it (never its secret)."""

    subscription_id: str
    name: str
    target: Target
    url: str
    subject: str
    filter: Filter
    state: State
    cursor: int
    last_error: str
    last_error_time: datetime | None
    failing_since: datetime | None
    last_delivery_time: datetime | None
    create_time: datetime
    created_by: str


@dataclass(frozen=True)
class DeliveryView:
    """One delivery attempt as ListDeliveries shows it."""

    event_id: str
    execution_id: str
    revision: int
    attempt_time: datetime
    attempt: int
    http_status: int
    latency_seconds: float
    succeeded: bool
    error: str
