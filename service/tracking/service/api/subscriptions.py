"""Subscription RPCs (admin only: the auth interceptor enforces it)."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration

from tracking.service.api.context import Context, caller_name
from tracking.service.api.enum_names import enum_name, enum_number
from tracking.service.api.values import stamp
from tracking.service.domain.errors import ValidationCollector
from tracking.service.domain.subscriptions import (
    DeliveryView,
    EventKind,
    Filter,
    State,
    SubscriptionDraft,
    SubscriptionView,
    Target,
)
from tracking.service.operations.subscriptions import Subscriptions
from tracking.v1 import status_pb2, subscription_pb2
from tracking.v1 import tracking_service_pb2 as pb


def subscription_proto(view: SubscriptionView) -> subscription_pb2.Subscription:
    message = subscription_pb2.Subscription(
        subscription_id=view.subscription_id,
        name=view.name,
        filter=subscription_pb2.SubscriptionFilter(
            deployment_names=view.filter.deployment_names,
            kinds=[
                enum_number(subscription_pb2.EventKind.DESCRIPTOR, kind.value)
                for kind in view.filter.kinds
            ],
            statuses=[
                enum_number(status_pb2.RunningStatus.DESCRIPTOR, status)
                for status in view.filter.statuses
            ],
        ),
        state=enum_number(subscription_pb2.SubscriptionState.DESCRIPTOR, view.state.value),
        last_error=view.last_error,
        last_error_time=stamp(view.last_error_time),
        create_time=stamp(view.create_time),
        created_by=view.created_by,
        delivered_position=view.cursor,
        last_delivery_time=stamp(view.last_delivery_time),
        failing_since=stamp(view.failing_since),
    )
    if view.target is Target.WEBHOOK:
        message.webhook.url = view.url
    else:
        message.nats.subject = view.subject
    return message


def delivery_proto(view: DeliveryView) -> subscription_pb2.Delivery:
    latency = Duration()
    latency.FromMicroseconds(round(view.latency_seconds * 1e6))
    return subscription_pb2.Delivery(
        event_id=view.event_id,
        execution_id=view.execution_id,
        revision=view.revision,
        attempt_time=stamp(view.attempt_time),
        attempt=view.attempt,
        http_status=view.http_status,
        latency=latency,
        succeeded=view.succeeded,
        error=view.error,
    )


def draft_of(request: pb.CreateSubscriptionRequest) -> SubscriptionDraft:
    subscription = request.subscription
    errors = ValidationCollector()
    kinds = []
    for index, kind in enumerate(subscription.filter.kinds):
        if kind == subscription_pb2.EVENT_KIND_UNSPECIFIED:
            errors.add(f"subscription.filter.kinds[{index}]", "must not be unspecified")
        else:
            kinds.append(EventKind(enum_name(subscription_pb2.EventKind.DESCRIPTOR, kind)))
    statuses = []
    for index, status in enumerate(subscription.filter.statuses):
        if status == status_pb2.RUNNING_STATUS_UNSPECIFIED:
            errors.add(f"subscription.filter.statuses[{index}]", "must not be unspecified")
        else:
            statuses.append(enum_name(status_pb2.RunningStatus.DESCRIPTOR, status))
    errors.raise_if_any()
    which = subscription.WhichOneof("target")
    target = {"webhook": Target.WEBHOOK, "nats": Target.NATS}.get(which or "")
    return SubscriptionDraft(
        name=subscription.name,
        target=target,
        url=subscription.webhook.url,
        subject=subscription.nats.subject,
        filter=Filter(tuple(subscription.filter.deployment_names), tuple(kinds), tuple(statuses)),
        request_id=request.request_id,
    )


class SubscriptionsApi:
    subscriptions: Subscriptions

    async def CreateSubscription(
        self, request: pb.CreateSubscriptionRequest, context: Context
    ) -> pb.CreateSubscriptionResponse:
        view, secret = await self.subscriptions.create(draft_of(request), caller_name())
        return pb.CreateSubscriptionResponse(subscription=subscription_proto(view), secret=secret)

    async def GetSubscription(
        self, request: pb.GetSubscriptionRequest, context: Context
    ) -> pb.GetSubscriptionResponse:
        view = await self.subscriptions.get(request.subscription_id)
        return pb.GetSubscriptionResponse(subscription=subscription_proto(view))

    async def ListSubscriptions(
        self, request: pb.ListSubscriptionsRequest, context: Context
    ) -> pb.ListSubscriptionsResponse:
        views = await self.subscriptions.list_all()
        return pb.ListSubscriptionsResponse(
            subscriptions=[subscription_proto(view) for view in views]
        )

    async def DeleteSubscription(
        self, request: pb.DeleteSubscriptionRequest, context: Context
    ) -> pb.DeleteSubscriptionResponse:
        await self.subscriptions.delete(request.subscription_id)
        return pb.DeleteSubscriptionResponse()

    async def PauseSubscription(
        self, request: pb.PauseSubscriptionRequest, context: Context
    ) -> pb.PauseSubscriptionResponse:
        view = await self.subscriptions.set_state(request.subscription_id, State.PAUSED)
        return pb.PauseSubscriptionResponse(subscription=subscription_proto(view))

    async def ResumeSubscription(
        self, request: pb.ResumeSubscriptionRequest, context: Context
    ) -> pb.ResumeSubscriptionResponse:
        view = await self.subscriptions.set_state(request.subscription_id, State.ACTIVE)
        return pb.ResumeSubscriptionResponse(subscription=subscription_proto(view))

    async def ListDeliveries(
        self, request: pb.ListDeliveriesRequest, context: Context
    ) -> pb.ListDeliveriesResponse:
        views = await self.subscriptions.deliveries(request.subscription_id, request.page_size)
        return pb.ListDeliveriesResponse(deliveries=[delivery_proto(view) for view in views])

    async def TestSubscription(
        self, request: pb.TestSubscriptionRequest, context: Context
    ) -> pb.TestSubscriptionResponse:
        view = await self.subscriptions.test(request.subscription_id)
        return pb.TestSubscriptionResponse(delivery=delivery_proto(view))
