"""Subscriptions: create, get, list, pause, resume, delete; the secret shown once; every bad
input refused with its field named."""

from __future__ import annotations

import grpc
import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support import http as connect
from tests.support.factories import create_deployment, new_token, violations
from tracking.v1 import status_pb2, subscription_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

PUBLIC_URL = "http://93.184.215.14/hook"  # a public address: accepted, never reached here


def webhook(url: str = PUBLIC_URL, **filter_fields: object) -> subscription_pb2.Subscription:
    return subscription_pb2.Subscription(
        name="hook",
        webhook=subscription_pb2.WebhookTarget(url=url),
        filter=subscription_pb2.SubscriptionFilter(**filter_fields),  # type: ignore[arg-type]
    )


def create(
    stub: TrackingServiceStub, subscription: subscription_pb2.Subscription, request_id: str = ""
) -> pb.CreateSubscriptionResponse:
    return stub.CreateSubscription(
        pb.CreateSubscriptionRequest(subscription=subscription, request_id=request_id)
    )


def refused(
    stub: TrackingServiceStub, subscription: subscription_pb2.Subscription
) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        create(stub, subscription)
    return caught.value


@pytest.fixture
def stub(make_server: ServerFactory) -> TrackingServiceStub:
    server = make_server()
    return TrackingServiceStub(grpc.insecure_channel(server.address))


def test_a_webhook_subscription_shows_its_secret_once(stub: TrackingServiceStub) -> None:
    deployment = create_deployment(stub)
    created = create(
        stub,
        webhook(
            deployment_names=[deployment.name],
            kinds=[subscription_pb2.EVENT_KIND_EXECUTION_STATUS_CHANGED],
            statuses=[status_pb2.RUNNING_STATUS_SUCCESS, status_pb2.RUNNING_STATUS_ERROR],
        ),
    )
    assert created.secret.startswith("whsec_")
    subscription = created.subscription
    assert subscription.subscription_id.startswith("sub_")
    assert subscription.state == subscription_pb2.SUBSCRIPTION_STATE_ACTIVE
    assert subscription.webhook.url == PUBLIC_URL
    assert list(subscription.filter.statuses) == [
        status_pb2.RUNNING_STATUS_SUCCESS,
        status_pb2.RUNNING_STATUS_ERROR,
    ]
    got = stub.GetSubscription(
        pb.GetSubscriptionRequest(subscription_id=subscription.subscription_id)
    )
    assert got.subscription == subscription
    assert created.secret not in str(got) + str(
        stub.ListSubscriptions(pb.ListSubscriptionsRequest())
    )


def test_pause_resume_list_delete(stub: TrackingServiceStub) -> None:
    first = create(stub, webhook()).subscription
    second = create(
        stub,
        subscription_pb2.Subscription(
            name="bus", nats=subscription_pb2.NatsTarget(subject="jobs.events")
        ),
    ).subscription
    assert second.nats.subject == "jobs.events"
    listed = stub.ListSubscriptions(pb.ListSubscriptionsRequest()).subscriptions
    assert [s.subscription_id for s in listed] == [second.subscription_id, first.subscription_id]
    paused = stub.PauseSubscription(
        pb.PauseSubscriptionRequest(subscription_id=first.subscription_id)
    ).subscription
    assert paused.state == subscription_pb2.SUBSCRIPTION_STATE_PAUSED
    resumed = stub.ResumeSubscription(
        pb.ResumeSubscriptionRequest(subscription_id=first.subscription_id)
    ).subscription
    assert resumed.state == subscription_pb2.SUBSCRIPTION_STATE_ACTIVE
    stub.DeleteSubscription(pb.DeleteSubscriptionRequest(subscription_id=first.subscription_id))
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetSubscription(pb.GetSubscriptionRequest(subscription_id=first.subscription_id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.DeleteSubscription(pb.DeleteSubscriptionRequest(subscription_id=first.subscription_id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_retried_create_returns_the_first_subscription(stub: TrackingServiceStub) -> None:
    first = create(stub, webhook(), request_id="create-once")
    again = create(stub, webhook(), request_id="create-once")
    assert again.subscription.subscription_id == first.subscription.subscription_id
    assert again.secret == ""
    assert len(stub.ListSubscriptions(pb.ListSubscriptionsRequest()).subscriptions) == 1


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/hook", "must be http or https"),
        ("file:///etc/passwd", "must be http or https"),
        ("http://user:secret@93.184.215.14/hook", "must not hold credentials"),
        ("http://93.184.215.14/" + "a" * 2100, "at most 2048 characters"),
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
        ("", "is required"),
        ("http:///hook", "has no host"),
    ],
)
def test_a_bad_webhook_url_is_refused(stub: TrackingServiceStub, url: str, problem: str) -> None:
    error = refused(stub, webhook(url))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert problem in violations(error)["subscription.webhook.url"]
    assert not stub.ListSubscriptions(pb.ListSubscriptionsRequest()).subscriptions


@pytest.mark.parametrize(
    "subject", ["jobs.*", "jobs.>", "jobs..events", "jobs events", ".jobs", "a" * 129]
)
def test_a_bad_nats_subject_is_refused(stub: TrackingServiceStub, subject: str) -> None:
    error = refused(
        stub,
        subscription_pb2.Subscription(
            name="bus", nats=subscription_pb2.NatsTarget(subject=subject)
        ),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "subscription.nats.subject" in violations(error)


def test_other_bad_fields_are_each_named(stub: TrackingServiceStub) -> None:
    error = refused(stub, subscription_pb2.Subscription(name=""))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(error)) == {"subscription.name", "subscription.target"}
    error = refused(
        stub,
        webhook(
            kinds=[subscription_pb2.EVENT_KIND_UNSPECIFIED],
            statuses=[status_pb2.RUNNING_STATUS_UNSPECIFIED],
        ),
    )
    assert set(violations(error)) == {
        "subscription.filter.kinds[0]",
        "subscription.filter.statuses[0]",
    }
    error = refused(stub, webhook(deployment_names=["Not A Name"]))
    assert "subscription.filter.deployment_names[0]" in violations(error)


def test_a_filter_naming_an_unknown_deployment_is_not_found(stub: TrackingServiceStub) -> None:
    error = refused(stub, webhook(deployment_names=["no-such-deployment"]))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "no-such-deployment" in str(error.details())


@pytest.mark.parametrize(
    "call",
    [
        "GetSubscription",
        "DeleteSubscription",
        "PauseSubscription",
        "ResumeSubscription",
        "ListDeliveries",
    ],
)
def test_a_malformed_or_unknown_id(stub: TrackingServiceStub, call: str) -> None:
    request_class = getattr(pb, f"{call}Request")
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stub, call)(request_class(subscription_id="nope"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "subscription_id" in violations(caught.value)
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stub, call)(request_class(subscription_id="sub_000000000000"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_only_an_admin_manages_subscriptions(make_server: ServerFactory) -> None:
    server = make_server(auth="on")
    _, admin = new_token(server, "ADMIN")
    _, writer = new_token(server, "WRITER")
    _, reader = new_token(server, "READER")
    stub = TrackingServiceStub(grpc.insecure_channel(server.address))
    for secret in (writer, reader):
        metadata = (("authorization", f"Bearer {secret}"),)
        for call, request in [
            ("CreateSubscription", pb.CreateSubscriptionRequest(subscription=webhook())),
            ("ListSubscriptions", pb.ListSubscriptionsRequest()),
            ("GetSubscription", pb.GetSubscriptionRequest(subscription_id="sub_000000000000")),
        ]:
            with pytest.raises(grpc.RpcError) as caught:
                getattr(stub, call)(request, metadata=metadata)
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    created = stub.CreateSubscription(
        pb.CreateSubscriptionRequest(subscription=webhook()),
        metadata=(("authorization", f"Bearer {admin}"),),
    )
    assert created.secret


def test_over_http_bad_input_and_a_non_admin_get_their_connect_codes(
    make_server: ServerFactory,
) -> None:
    server = make_server(auth="on", http_address="127.0.0.1:0")
    _, admin = new_token(server, "ADMIN")
    _, writer = new_token(server, "WRITER")
    as_admin = {"authorization": f"Bearer {admin}"}
    as_writer = {"authorization": f"Bearer {writer}"}
    hook = {"name": "hook", "webhook": {"url": PUBLIC_URL}}
    with httpx.Client(base_url=server.http_url, timeout=30) as http:
        created = connect.call(http, "CreateSubscription", {"subscription": hook}, headers=as_admin)
        secret = created["secret"]
        assert secret.startswith("whsec_")
        subscription_id = created["subscription"]["subscriptionId"]

        bad = dict(hook, webhook={"url": "http://user:pw@93.184.215.14/hook"})
        answer = http.post(
            connect.SERVICE + "CreateSubscription", json={"subscription": bad}, headers=as_admin
        )
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid_argument")
        assert "credentials" in connect.violations(answer)["subscription.webhook.url"]
        bad = {"name": "bus", "nats": {"subject": "jobs.>"}}
        answer = http.post(
            connect.SERVICE + "CreateSubscription", json={"subscription": bad}, headers=as_admin
        )
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid_argument")
        assert "subscription.nats.subject" in connect.violations(answer)
        unknown = dict(hook, filter={"deploymentNames": ["no-such-deployment"]})
        answer = http.post(
            connect.SERVICE + "CreateSubscription", json={"subscription": unknown}, headers=as_admin
        )
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found")

        for method, body in [
            ("CreateSubscription", {"subscription": hook}),
            ("GetSubscription", {"subscriptionId": subscription_id}),
            ("ListSubscriptions", {}),
        ]:
            answer = http.post(connect.SERVICE + method, json=body, headers=as_writer)
            assert (answer.status_code, answer.json()["code"]) == (403, "permission_denied")
            assert secret not in answer.text
        shown = http.post(
            connect.SERVICE + "GetSubscription",
            json={"subscriptionId": subscription_id},
            headers=as_admin,
        )
        assert shown.status_code == 200
        assert secret not in shown.text
        listed = connect.call(http, "ListSubscriptions", {}, headers=as_admin)
        assert [s["subscriptionId"] for s in listed["subscriptions"]] == [subscription_id]
