"""Subscriptions made from tests, and what receivers got, read as a receiver would."""

from __future__ import annotations

import json
from typing import Any

from cloudevents.core.bindings.http import HTTPMessage, from_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from standardwebhooks import Webhook

from tests.support.receiver import Received
from tracking.v1 import subscription_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def subscribe_webhook(stub: TrackingServiceStub, url: str, **filter_fields: Any) -> tuple[str, str]:
    """(subscription id, signing secret)."""
    response = stub.CreateSubscription(
        pb.CreateSubscriptionRequest(
            subscription=subscription_pb2.Subscription(
                name="test hook",
                webhook=subscription_pb2.WebhookTarget(url=url),
                filter=subscription_pb2.SubscriptionFilter(**filter_fields),
            )
        )
    )
    return response.subscription.subscription_id, response.secret


def verified_event(received: Received, secret: str) -> CloudEvent:
    """The CloudEvent of a webhook request, after checking its signature (Standard Webhooks)
    and parsing it with the CloudEvents SDK; raises if either fails."""
    Webhook(secret).verify(received.body, received.headers)
    event = from_structured(HTTPMessage(received.headers, received.body), JSONFormat(), CloudEvent)
    assert isinstance(event, CloudEvent)
    assert received.headers["webhook-id"] == event.get_id()
    return event


def data(event: CloudEvent) -> dict[str, Any]:
    value = event.get_data()
    return value if isinstance(value, dict) else json.loads(value or "{}")


def subscription(stub: TrackingServiceStub, subscription_id: str) -> subscription_pb2.Subscription:
    return stub.GetSubscription(
        pb.GetSubscriptionRequest(subscription_id=subscription_id)
    ).subscription


def deliveries(stub: TrackingServiceStub, subscription_id: str) -> list[subscription_pb2.Delivery]:
    return list(
        stub.ListDeliveries(pb.ListDeliveriesRequest(subscription_id=subscription_id)).deliveries
    )
