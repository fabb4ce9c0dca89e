"""Webhooks: signed structured CloudEvents, in order, retried, never following a redirect or
reading a huge answer, and stopped by 410 Gone or a receiver that fails too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import field_mask_pb2

from tests.conftest import ServerFactory
from tests.support.factories import create_deployment, create_execution, start, stop
from tests.support.receiver import Answer, Received, receiving
from tests.support.server import ServerThread
from tests.support.subscribing import (
    data,
    deliveries,
    subscribe_webhook,
    subscription,
    verified_event,
)
from tests.support.waiting import wait_for
from tracking.v1 import deployment_pb2 as dpb
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import status_pb2, subscription_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def serving(
    make_server: ServerFactory, **settings: object
) -> tuple[ServerThread, TrackingServiceStub]:
    values: dict[str, object] = {
        "outbound_allow_private_addresses": True,
        "outbound_retry_base_seconds": 0.05,
        "outbound_retry_max_seconds": 0.5,
    }
    values.update(settings)
    server = make_server(**values)
    return server, TrackingServiceStub(grpc.insecure_channel(server.address))


def test_events_arrive_signed_in_order_as_cloud_events(make_server: ServerFactory) -> None:
    _, stub = serving(make_server)
    deployment = create_deployment(stub, labels={"team": "ml"})
    with receiving() as receiver:
        subscription_id, secret = subscribe_webhook(stub, receiver.url)
        execution = create_execution(
            stub, deployment_name=deployment.name, job_name="train", labels={"run": "7"}
        )
        start(stub, execution.execution_id)
        stop(stub, execution.execution_id, status_pb2.RUNNING_STATUS_SUCCESS)
        wait_for(lambda: len(receiver.bodies()) >= 3, "three events")
        events = [verified_event(received, secret) for received in receiver.bodies()]
    assert [e.get_type() for e in events] == [
        "dev.tracking.execution.created.v1",
        "dev.tracking.execution.status_changed.v1",
        "dev.tracking.execution.status_changed.v1",
    ]
    assert {e.get_subject() for e in events} == {execution.execution_id}
    assert [data(e)["revision"] for e in events] == [1, 2, 3]
    assert [data(e)["jobStatus"]["status"] for e in events] == ["WAITING", "RUNNING", "SUCCESS"]
    last = data(events[-1])
    assert last["deploymentName"] == deployment.name
    assert last["jobName"] == "train"
    assert last["labels"] == {"run": "7"}
    assert all(e.get_time() is not None and e.get_source() == "/tracking" for e in events)
    assert len({e.get_id() for e in events}) == 3
    shown = subscription(stub, subscription_id)
    assert shown.last_error == ""
    assert shown.HasField("last_delivery_time")
    assert all(d.succeeded and d.http_status == 204 for d in deliveries(stub, subscription_id))


def test_an_execution_created_in_a_trace_sends_its_traceparent(
    make_server: ServerFactory,
) -> None:
    _, stub = serving(make_server)
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with receiving() as receiver:
        _, secret = subscribe_webhook(stub, receiver.url)
        stub.CreateExecution(
            pb.CreateExecutionRequest(execution=epb.Execution(job_name="traced")),
            metadata=(("traceparent", traceparent),),
        )
        untraced = create_execution(stub)
        wait_for(lambda: len(receiver.bodies()) >= 2, "both events")
        events = [verified_event(received, secret) for received in receiver.bodies()]
    # Two executions' events: sent in parallel, they may arrive in either order.
    (plain,) = [e for e in events if e.get_subject() == untraced.execution_id]
    (traced,) = [e for e in events if e.get_subject() != untraced.execution_id]
    assert traced.get_extension("traceparent") == traceparent
    assert plain.get_extension("traceparent") is None


def test_a_filter_chooses_deployments_kinds_and_statuses(make_server: ServerFactory) -> None:
    _, stub = serving(make_server)
    chosen = create_deployment(stub)
    other = create_deployment(stub)
    with receiving() as receiver:
        _, secret = subscribe_webhook(
            stub,
            receiver.url,
            deployment_names=[chosen.name],
            kinds=[subscription_pb2.EVENT_KIND_EXECUTION_STATUS_CHANGED],
            statuses=[status_pb2.RUNNING_STATUS_SUCCESS, status_pb2.RUNNING_STATUS_ERROR],
        )
        for deployment in (other, chosen):
            execution = create_execution(stub, deployment_name=deployment.name)
            start(stub, execution.execution_id)
            stop(stub, execution.execution_id, status_pb2.RUNNING_STATUS_ERROR)
        wait_for(lambda: receiver.bodies(), "the chosen event")
        # A later event proves the ones before it were looked at and left out.
        marker = create_execution(stub, deployment_name=chosen.name)
        start(stub, marker.execution_id)
        stop(stub, marker.execution_id, status_pb2.RUNNING_STATUS_SUCCESS)
        wait_for(lambda: len(receiver.bodies()) >= 2, "the marker")
        events = [verified_event(received, secret) for received in receiver.bodies()]
    assert [(data(e)["deploymentName"], data(e)["jobStatus"]["status"]) for e in events] == [
        (chosen.name, "ERROR"),
        (chosen.name, "SUCCESS"),
    ]


def test_a_deployments_creation_update_and_deletion_are_events(
    make_server: ServerFactory,
) -> None:
    _, stub = serving(make_server)
    with receiving() as receiver, receiving() as deployments_only:
        subscription_id, secret = subscribe_webhook(stub, receiver.url)
        _, only_secret = subscribe_webhook(
            stub,
            deployments_only.url,
            kinds=[
                subscription_pb2.EVENT_KIND_DEPLOYMENT_CREATED,
                subscription_pb2.EVENT_KIND_DEPLOYMENT_DELETED,
            ],
        )
        # A filter with statuses admits no deployment event (they have none).
        with receiving() as by_status:
            _, status_secret = subscribe_webhook(
                stub, by_status.url, statuses=[status_pb2.RUNNING_STATUS_WAITING]
            )
            deployment = create_deployment(stub, labels={"team": "ml"})
            stub.UpdateDeployment(
                pb.UpdateDeploymentRequest(
                    deployment=dpb.Deployment(name=deployment.name, description="nightly"),
                    update_mask=field_mask_pb2.FieldMask(paths=["description"]),
                )
            )
            execution = create_execution(stub, deployment_name=deployment.name)
            stub.DeleteDeployment(pb.DeleteDeploymentRequest(name=deployment.name))
            wait_for(lambda: len(receiver.bodies()) >= 5, "five events")
            wait_for(lambda: len(deployments_only.bodies()) >= 2, "the chosen two")
            wait_for(lambda: len(by_status.bodies()) >= 2, "the waiting execution's events")
            only_waiting = [verified_event(b, status_secret) for b in by_status.bodies()]
        events = [verified_event(received, secret) for received in receiver.bodies()]
        chosen = [verified_event(received, only_secret) for received in deployments_only.bodies()]
    deployment_events = [e for e in events if e.get_type().startswith("dev.tracking.deployment.")]
    assert [e.get_type() for e in deployment_events] == [
        "dev.tracking.deployment.created.v1",
        "dev.tracking.deployment.updated.v1",
        "dev.tracking.deployment.deleted.v1",
    ]
    assert {e.get_subject() for e in deployment_events} == {deployment.name}
    assert all(e.get_id().startswith("dep_") for e in deployment_events)
    assert len({e.get_id() for e in events}) == len(events) == 5
    shown = [data(e)["deployment"] for e in deployment_events]
    assert [d.get("description", "") for d in shown] == ["", "nightly", "nightly"]
    assert shown[0]["labels"] == {"team": "ml"}
    assert all("endpointToken" not in d for d in shown)
    assert [e.get_type() for e in events if e.get_subject() == execution.execution_id] == [
        "dev.tracking.execution.created.v1",
        "dev.tracking.execution.deleted.v1",
    ]
    assert [e.get_type() for e in chosen] == [
        "dev.tracking.deployment.created.v1",
        "dev.tracking.deployment.deleted.v1",
    ]
    assert [e.get_type() for e in only_waiting] == [
        "dev.tracking.execution.created.v1",
        "dev.tracking.execution.deleted.v1",
    ]
    wait_for(
        lambda: sum(d.succeeded for d in deliveries(stub, subscription_id)) >= 5,
        "the attempts recorded",
    )


def test_a_failing_receiver_gets_every_event_again_with_the_same_id(
    make_server: ServerFactory,
) -> None:
    _, stub = serving(make_server)
    answers = iter([500, 503, 500])

    def flaky(_: Received) -> Answer:
        return Answer(next(answers, 204))

    with receiving(flaky) as receiver:
        subscription_id, secret = subscribe_webhook(stub, receiver.url)
        execution = create_execution(stub)
        start(stub, execution.execution_id)
        wait_for(lambda: len(receiver.bodies()) >= 2, "both events")
        events = [verified_event(received, secret) for received in receiver.bodies()]
    assert [data(e)["revision"] for e in events] == [1, 2]
    attempts = list(reversed(deliveries(stub, subscription_id)))
    assert [(a.attempt, a.http_status, a.succeeded) for a in attempts] == [
        (1, 500, False),
        (2, 503, False),
        (3, 500, False),
        (4, 204, True),
        (1, 204, True),
    ]
    assert len({a.event_id for a in attempts[:4]}) == 1
    assert attempts[0].error.startswith("HTTP 500")
    stub.GetServiceInfo(pb.GetServiceInfoRequest())


def test_retry_after_is_honoured(make_server: ServerFactory) -> None:
    _, stub = serving(make_server, outbound_retry_max_seconds=5)
    answers = iter([Answer(503, headers={"retry-after": "1"})])
    with receiving(lambda _: next(answers, Answer())) as receiver:
        subscription_id, _ = subscribe_webhook(stub, receiver.url)
        create_execution(stub)
        wait_for(lambda: receiver.bodies(), "the event")
    first, second = reversed(deliveries(stub, subscription_id))
    waited = second.attempt_time.ToDatetime() - first.attempt_time.ToDatetime()
    assert waited.total_seconds() >= 1.0


def test_410_gone_stops_the_subscription_until_it_is_resumed(
    make_server: ServerFactory,
) -> None:
    _, stub = serving(make_server)
    answers = iter([Answer(410)])
    with receiving(lambda _: next(answers, Answer())) as receiver:
        subscription_id, secret = subscribe_webhook(stub, receiver.url)
        execution = create_execution(stub)
        wait_for(
            lambda: (
                subscription(stub, subscription_id).state
                == subscription_pb2.SUBSCRIPTION_STATE_FAILING
            ),
            "the subscription marked failing",
        )
        shown = subscription(stub, subscription_id)
        assert "410 Gone" in shown.last_error
        assert shown.HasField("failing_since")
        (gone,) = deliveries(stub, subscription_id)
        assert (gone.http_status, gone.succeeded) == (410, False)
        # Nothing more is sent while it is failing: a later event waits behind the first.
        start(stub, execution.execution_id)
        stub.GetServiceInfo(pb.GetServiceInfoRequest())
        assert len(deliveries(stub, subscription_id)) == 1
        assert receiver.bodies() == []
        # Resumed, it starts again from the event the receiver refused, with the same id.
        resumed = stub.ResumeSubscription(
            pb.ResumeSubscriptionRequest(subscription_id=subscription_id)
        ).subscription
        assert resumed.state == subscription_pb2.SUBSCRIPTION_STATE_ACTIVE
        wait_for(lambda: len(receiver.bodies()) >= 2, "both events")
        events = [verified_event(received, secret) for received in receiver.bodies()]
    assert events[0].get_id() == gone.event_id
    assert [data(e)["revision"] for e in events] == [1, 2]
    wait_for(lambda: subscription(stub, subscription_id).last_error == "", "the error forgotten")


def test_a_redirect_is_not_followed(make_server: ServerFactory) -> None:
    _, stub = serving(make_server, outbound_max_age_seconds=0.5)
    with receiving() as elsewhere:
        with receiving(lambda _: Answer(307, headers={"location": elsewhere.url})) as receiver:
            subscription_id, _ = subscribe_webhook(stub, receiver.url)
            create_execution(stub)
            wait_for(
                lambda: (
                    subscription(stub, subscription_id).state
                    == subscription_pb2.SUBSCRIPTION_STATE_FAILING
                ),
                "the subscription marked failing",
            )
        assert elsewhere.bodies() == []
    shown = subscription(stub, subscription_id)
    assert "redirect" in shown.last_error
    assert "not followed" in shown.last_error
    assert shown.HasField("failing_since")
    stub.GetServiceInfo(pb.GetServiceInfoRequest())


def test_a_receiver_that_hangs_times_out(make_server: ServerFactory) -> None:
    _, stub = serving(make_server, outbound_timeout_seconds=0.5, outbound_max_age_seconds=0.8)
    with receiving(lambda _: Answer(delay=5)) as receiver:
        subscription_id, _ = subscribe_webhook(stub, receiver.url)
        create_execution(stub)
        wait_for(
            lambda: (
                subscription(stub, subscription_id).state
                == subscription_pb2.SUBSCRIPTION_STATE_FAILING
            ),
            "the subscription marked failing",
        )
    assert "no answer within 0.5 s" in subscription(stub, subscription_id).last_error
    stub.GetServiceInfo(pb.GetServiceInfoRequest())


def test_a_receiver_that_sends_a_gigabyte_is_read_a_few_kilobytes(
    make_server: ServerFactory,
) -> None:
    _, stub = serving(make_server, outbound_timeout_seconds=30)
    with receiving(lambda _: Answer(500, body_bytes=1 << 30)) as receiver:
        subscription_id, _ = subscribe_webhook(stub, receiver.url)
        create_execution(stub)
        wait_for(lambda: len(deliveries(stub, subscription_id)) >= 2, "two attempts")
        stub.PauseSubscription(pb.PauseSubscriptionRequest(subscription_id=subscription_id))
    attempt = deliveries(stub, subscription_id)[-1]
    assert attempt.http_status == 500
    assert len(attempt.error) <= 300
    stub.GetServiceInfo(pb.GetServiceInfoRequest())


def test_a_receiver_that_answers_garbage_is_an_error_of_bounded_length(
    make_server: ServerFactory,
) -> None:
    _, stub = serving(make_server)

    def garbage(_: Received) -> Answer:
        # Says 12 bytes, sends 100 KB: the rest reads as a malformed next answer.
        return Answer(204, body_bytes=12, extra_bytes=100_000)

    with receiving(garbage) as receiver:
        subscription_id, _ = subscribe_webhook(stub, receiver.url)
        for _ in range(3):
            create_execution(stub)
        wait_for(
            lambda: any(not d.succeeded for d in deliveries(stub, subscription_id)),
            "a failed attempt",
        )
        stub.PauseSubscription(pb.PauseSubscriptionRequest(subscription_id=subscription_id))
    failed = [d for d in deliveries(stub, subscription_id) if not d.succeeded]
    assert all(0 < len(d.error) <= 300 for d in failed)
    assert len(subscription(stub, subscription_id).last_error) <= 400


def test_the_address_is_checked_again_at_each_connection(make_server: ServerFactory) -> None:
    server, stub = serving(make_server)
    with receiving() as receiver:
        subscription_id, _ = subscribe_webhook(stub, receiver.url)
        server.stop()
        # The same database, served by a server that refuses private addresses.
        _, stub = serving(make_server, outbound_allow_private_addresses=False)
        create_execution(stub)
        wait_for(lambda: deliveries(stub, subscription_id), "an attempt")
        assert receiver.bodies() == []
    assert "refused" in deliveries(stub, subscription_id)[0].error
    assert "loopback" in deliveries(stub, subscription_id)[0].error


def test_a_paused_subscription_delivers_what_it_held_once_resumed(
    make_server: ServerFactory,
) -> None:
    _, stub = serving(make_server)
    with receiving() as receiver:
        subscription_id, secret = subscribe_webhook(stub, receiver.url)
        stub.PauseSubscription(pb.PauseSubscriptionRequest(subscription_id=subscription_id))
        execution = create_execution(stub)
        start(stub, execution.execution_id)
        stub.ResumeSubscription(pb.ResumeSubscriptionRequest(subscription_id=subscription_id))
        wait_for(lambda: len(receiver.bodies()) >= 2, "the held events")
        events = [verified_event(received, secret) for received in receiver.bodies()]
    assert [data(e)["revision"] for e in events] == [1, 2]


def test_retention_keeps_the_events_a_subscription_has_not_delivered(
    make_server: ServerFactory,
) -> None:
    server, stub = serving(make_server, retention_seconds=3600)
    assert server.app is not None
    retention = server.app.retention
    later = datetime.now(UTC) + timedelta(hours=2)
    with receiving() as receiver:
        subscription_id, secret = subscribe_webhook(stub, receiver.url)
        stub.PauseSubscription(pb.PauseSubscriptionRequest(subscription_id=subscription_id))
        deployment = create_deployment(stub)
        execution = create_execution(stub)
        start(stub, execution.execution_id)
        stop(stub, execution.execution_id)
        # Past their retention time, but not delivered: the sweep leaves them.
        kept = server.run(retention.sweep(now=later))
        assert (kept.executions, kept.events) == (0, 0)
        stub.ResumeSubscription(pb.ResumeSubscriptionRequest(subscription_id=subscription_id))
        wait_for(lambda: len(receiver.bodies()) >= 4, "the kept events")
        events = [verified_event(received, secret) for received in receiver.bodies()]
        assert [data(e)["revision"] for e in events if e.get_subject() != deployment.name] == [
            1,
            2,
            3,
        ]
        assert [e.get_type() for e in events if e.get_subject() == deployment.name] == [
            "dev.tracking.deployment.created.v1"
        ]
        # Once delivered (the cursor moved past them), they go like any other.
        wait_for(
            lambda: server.run(retention.sweep(now=later)).events == 3,
            "the delivered events removed",
        )


def test_the_test_event(make_server: ServerFactory) -> None:
    _, stub = serving(make_server)
    with receiving() as receiver:
        subscription_id, secret = subscribe_webhook(stub, receiver.url)
        delivery = stub.TestSubscription(
            pb.TestSubscriptionRequest(subscription_id=subscription_id)
        ).delivery
        assert delivery.succeeded
        assert delivery.http_status == 204
        (received,) = receiver.bodies()
    event = verified_event(received, secret)
    assert event.get_type() == "dev.tracking.test.v1"
    assert delivery.event_id == event.get_id()
    assert subscription(stub, subscription_id).delivered_position >= 0


def test_deleting_a_subscription_stops_its_deliveries(make_server: ServerFactory) -> None:
    _, stub = serving(make_server)
    with receiving() as receiver:
        subscription_id, _ = subscribe_webhook(stub, receiver.url)
        create_execution(stub)
        wait_for(lambda: receiver.bodies(), "the first event")
        stub.DeleteSubscription(pb.DeleteSubscriptionRequest(subscription_id=subscription_id))
        with receiving() as later:
            subscribe_webhook(stub, later.url)
            create_execution(stub)
            wait_for(lambda: later.bodies(), "the other subscription's event")
        assert len(receiver.bodies()) == 1
