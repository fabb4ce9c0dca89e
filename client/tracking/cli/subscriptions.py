"""`tracking subscriptions create|list|get|deliveries|test|pause|resume|delete` (admin)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from tracking.cli.common import Output, OutputOption, fail, parse_enum, with_client
from tracking.cli.help import Command, group
from tracking.cli.render import Column, short_enum, show_many, show_one
from tracking.client import TrackingClient
from tracking.v1 import status_pb2, subscription_pb2

subscriptions = group(
    help="Send events to webhooks or NATS JetStream (admin; docs/events.md).",
    no_args_is_help=True,
)

IdArgument = Annotated[str, typer.Argument(help="the subscription (sub_...)", show_default=False)]

SUBSCRIPTION_COLUMNS: Sequence[Column[subscription_pb2.Subscription]] = (
    ("ID", lambda s: s.subscription_id),
    ("NAME", lambda s: s.name),
    ("TARGET", lambda s: s.webhook.url if s.HasField("webhook") else f"nats:{s.nats.subject}"),
    ("STATE", lambda s: short_enum(subscription_pb2.SubscriptionState, s.state)),
    ("POSITION", lambda s: str(s.delivered_position)),
    ("LAST ERROR", lambda s: s.last_error or "-"),
)
DELIVERY_COLUMNS: Sequence[Column[subscription_pb2.Delivery]] = (
    ("TIME", lambda d: d.attempt_time.ToDatetime().isoformat(timespec="milliseconds")),
    ("EVENT", lambda d: d.event_id),
    ("EXECUTION", lambda d: d.execution_id or "-"),
    ("REVISION", lambda d: str(d.revision)),
    ("ATTEMPT", lambda d: str(d.attempt)),
    ("HTTP", lambda d: str(d.http_status or "-")),
    ("MS", lambda d: f"{d.latency.ToMicroseconds() / 1000:.1f}"),
    ("OK", lambda d: "yes" if d.succeeded else "no"),
    ("ERROR", lambda d: d.error or "-"),
)


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


@subscriptions.command("create", cls=Command)
@with_client
def create(
    client: TrackingClient,
    webhook: Annotated[str, typer.Option(help="an http(s) URL to POST events to")] = "",
    nats: Annotated[
        str | None, typer.Option(help="a NATS subject prefix (events go to PREFIX.deployment.id)")
    ] = None,
    name: Annotated[str, typer.Option(help="what it is for")] = "",
    deployment: Annotated[
        list[str] | None, typer.Option(help="only this deployment's events (repeatable)")
    ] = None,
    status: Annotated[
        list[str] | None, typer.Option(help="only events with these statuses, e.g. SUCCESS,ERROR")
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            help="only these kinds: execution_created, execution_status_changed,"
            " execution_updated, execution_deleted, deployment_created, deployment_updated,"
            " deployment_deleted"
        ),
    ] = None,
    output: OutputOption = Output.TABLE,
) -> None:
    """Create a subscription; a webhook's signing secret is printed only this once."""
    if bool(webhook) == (nats is not None):
        fail("give exactly one of --webhook URL and --nats SUBJECT", 2)
    statuses = [parse_enum(status_pb2.RunningStatus, s, "--status") for s in _split(status)]
    kinds = [parse_enum(subscription_pb2.EventKind, k, "--kind") for k in _split(kind)]
    created = client.create_subscription(
        name or (webhook or f"nats:{nats}")[:128],
        webhook=webhook,
        nats=nats,
        deployments=_split(deployment),
        kinds=kinds,
        statuses=statuses,
    )
    show_one(created, output)


@subscriptions.command("list", cls=Command)
@with_client
def list_(client: TrackingClient, output: OutputOption = Output.TABLE) -> None:
    """List subscriptions, newest first."""
    show_many(client.list_subscriptions(), SUBSCRIPTION_COLUMNS, output)


@subscriptions.command("get", cls=Command)
@with_client
def get(
    client: TrackingClient, subscription_id: IdArgument, output: OutputOption = Output.TABLE
) -> None:
    """Show one subscription: its state, position and last error."""
    show_one(client.get_subscription(subscription_id), output)


@subscriptions.command("deliveries", cls=Command)
@with_client
def deliveries(
    client: TrackingClient,
    subscription_id: IdArgument,
    limit: Annotated[int, typer.Option(help="at most this many (0: 50)", min=0, max=1000)] = 0,
    output: OutputOption = Output.TABLE,
) -> None:
    """The last delivery attempts, newest first."""
    found = client.list_deliveries(subscription_id, page_size=limit)
    show_many(found, DELIVERY_COLUMNS, output)


@subscriptions.command("test", cls=Command)
@with_client
def send_test(
    client: TrackingClient, subscription_id: IdArgument, output: OutputOption = Output.TABLE
) -> None:
    """Send one test event now and show how it went (exit 1 if it failed)."""
    delivery = client.test_subscription(subscription_id)
    show_one(delivery, output)
    if not delivery.succeeded:
        raise typer.Exit(1)


@subscriptions.command("pause", cls=Command)
@with_client
def pause(
    client: TrackingClient, subscription_id: IdArgument, output: OutputOption = Output.TABLE
) -> None:
    """Pause delivery (events are kept)."""
    show_one(client.pause_subscription(subscription_id), output)


@subscriptions.command("resume", cls=Command)
@with_client
def resume(
    client: TrackingClient, subscription_id: IdArgument, output: OutputOption = Output.TABLE
) -> None:
    """Resume a paused or failing subscription from its position."""
    show_one(client.resume_subscription(subscription_id), output)


@subscriptions.command("delete", cls=Command)
@with_client
def delete(client: TrackingClient, subscription_id: IdArgument) -> None:
    """Delete a subscription."""
    client.delete_subscription(subscription_id)
    print(f"deleted {subscription_id}")
