"""NATS JetStream subscriptions: each event published as a structured CloudEvent to
`<subject>.<deployment>.<execution>` with Nats-Msg-Id = its id, read back with nats-py."""

from __future__ import annotations

import asyncio

import grpc
from cloudevents.core.bindings.http import HTTPMessage, from_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.conftest import ServerFactory
from tests.support.factories import create_deployment, create_execution, start, stop
from tests.support.jetstream import add_stream, fresh_subject, read_published
from tests.support.subscribing import data, deliveries, subscription
from tests.support.waiting import wait_for
from tracking.service.domain.subscriptions import stream_name
from tracking.v1 import status_pb2, subscription_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def subscribe_nats(stub: TrackingServiceStub, subject: str) -> str:
    response = stub.CreateSubscription(
        pb.CreateSubscriptionRequest(
            subscription=subscription_pb2.Subscription(
                name="bus", nats=subscription_pb2.NatsTarget(subject=subject)
            )
        )
    )
    assert response.secret == ""
    return response.subscription.subscription_id


def test_events_are_published_to_jetstream(make_server: ServerFactory) -> None:
    server = make_server()
    stub = TrackingServiceStub(grpc.insecure_channel(server.address))
    deployment = create_deployment(stub)
    with fresh_subject() as subject:
        subscription_id = subscribe_nats(stub, subject)
        executions = [create_execution(stub, deployment_name=deployment.name) for _ in range(3)]
        for execution in executions:
            start(stub, execution.execution_id)
            stop(stub, execution.execution_id, status_pb2.RUNNING_STATUS_SUCCESS)
        published = read_published(stream_name(subject), subject, at_least=9)
    assert len(published) == 9
    for execution in executions:
        mine = [p for p in published if p.subject.endswith("." + execution.execution_id)]
        assert {p.subject for p in mine} == {
            f"{subject}.{deployment.name}.{execution.execution_id}"
        }
        events = [from_structured(HTTPMessage({}, p.body), JSONFormat(), CloudEvent) for p in mine]
        assert [p.headers["Nats-Msg-Id"] for p in mine] == [e.get_id() for e in events]
        assert [data(e)["revision"] for e in events] == [1, 2, 3]
        assert [data(e)["jobStatus"]["status"] for e in events] == ["WAITING", "RUNNING", "SUCCESS"]
    wait_for(
        lambda: subscription(stub, subscription_id).HasField("last_delivery_time"),
        "the position saved",
    )
    assert all(d.succeeded for d in deliveries(stub, subscription_id))


def test_an_unreachable_broker_is_retried_and_recorded(make_server: ServerFactory) -> None:
    server = make_server(
        nats_url="nats://127.0.0.1:9",
        outbound_timeout_seconds=0.5,
        outbound_retry_base_seconds=0.05,
        outbound_retry_max_seconds=0.2,
    )
    stub = TrackingServiceStub(grpc.insecure_channel(server.address))
    subscription_id = subscribe_nats(stub, "nowhere")
    create_execution(stub)
    wait_for(lambda: len(deliveries(stub, subscription_id)) >= 2, "two attempts")
    attempt = deliveries(stub, subscription_id)[0]
    assert not attempt.succeeded
    assert attempt.error
    shown = subscription(stub, subscription_id)
    assert shown.last_error
    assert shown.state == subscription_pb2.SUBSCRIPTION_STATE_ACTIVE
    stub.GetServiceInfo(pb.GetServiceInfoRequest())


def test_two_subscriptions_on_one_subject_store_each_event_once(
    make_server: ServerFactory,
) -> None:
    # Both publish every event with the same Nats-Msg-Id: JetStream keeps the first.
    server = make_server()
    stub = TrackingServiceStub(grpc.insecure_channel(server.address))
    with fresh_subject() as subject:
        first = subscribe_nats(stub, subject)
        second = subscribe_nats(stub, subject)
        execution = create_execution(stub)
        start(stub, execution.execution_id)

        def acknowledged_both(subscription_id: str) -> bool:
            return sum(d.succeeded for d in deliveries(stub, subscription_id)) >= 2

        wait_for(lambda: acknowledged_both(first), "both events acknowledged to the first")
        wait_for(lambda: acknowledged_both(second), "both events acknowledged to the second")
        marker = create_execution(stub)
        published = read_published(stream_name(subject), subject, at_least=3)
    # Every message read before the marker's: the execution's two events, once each.
    assert [p.subject.rsplit(".", 1)[-1] for p in published[:3]] == [
        execution.execution_id,
        execution.execution_id,
        marker.execution_id,
    ]
    acknowledged = [d.event_id for d in reversed(deliveries(stub, second)) if d.succeeded]
    assert [p.headers["Nats-Msg-Id"] for p in published[:2]] == acknowledged[:2]


def test_without_stream_creation_an_absent_stream_fails_until_one_exists(
    make_server: ServerFactory,
) -> None:
    server = make_server(
        nats_create_streams=False,
        outbound_retry_base_seconds=0.05,
        outbound_retry_max_seconds=0.2,
    )
    stub = TrackingServiceStub(grpc.insecure_channel(server.address))
    with fresh_subject() as subject:
        subscription_id = subscribe_nats(stub, subject)
        execution = create_execution(stub)
        wait_for(lambda: deliveries(stub, subscription_id), "an attempt")
        refused = deliveries(stub, subscription_id)[-1]
        assert not refused.succeeded
        assert "no JetStream stream holds" in refused.error
        assert "stream creation is off" in refused.error
        asyncio.run(add_stream(stream_name(subject), f"{subject}.>"))
        published = read_published(stream_name(subject), subject, at_least=1)
    assert [p.subject for p in published] == [f"{subject}._.{execution.execution_id}"]
    assert published[0].headers["Nats-Msg-Id"] == refused.event_id
