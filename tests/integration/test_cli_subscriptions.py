"""`tracking subscriptions`: create a webhook, see it, send a test event, read its deliveries,
pause, resume and delete it, as a user would from a shell."""

from __future__ import annotations

import json

from tests.conftest import ServerFactory
from tests.support.cli import tracking
from tests.support.receiver import receiving
from tests.support.subscribing import verified_event


def test_the_subscription_commands(make_server: ServerFactory) -> None:
    server = make_server(outbound_allow_private_addresses=True)
    address = server.address
    with receiving() as receiver:
        created = tracking(
            address, "subscriptions", "create", "--webhook", receiver.url, "--status",
            "SUCCESS,ERROR", "--output", "json",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        shown = json.loads(created.stdout)
        subscription_id = shown["subscription"]["subscription_id"]
        secret = shown["secret"]
        listed = tracking(address, "subscriptions", "list")
        assert subscription_id in listed.stdout
        assert secret not in listed.stdout
        tested = tracking(address, "subscriptions", "test", subscription_id)
        assert tested.returncode == 0, tested.stderr
        (received,) = receiver.bodies()
        assert verified_event(received, secret).get_type() == "dev.tracking.test.v1"
    deliveries = tracking(address, "subscriptions", "deliveries", subscription_id)
    assert deliveries.returncode == 0, deliveries.stderr
    assert deliveries.stdout.splitlines()[0].split()[:3] == ["TIME", "EVENT", "EXECUTION"]
    assert "yes" in deliveries.stdout
    paused = tracking(address, "subscriptions", "pause", subscription_id)
    assert "PAUSED" in paused.stdout
    resumed = tracking(address, "subscriptions", "resume", subscription_id)
    assert "ACTIVE" in resumed.stdout
    got = tracking(address, "subscriptions", "get", subscription_id, "--output", "json")
    assert json.loads(got.stdout)["filter"]["statuses"] == [
        "RUNNING_STATUS_SUCCESS",
        "RUNNING_STATUS_ERROR",
    ]
    assert tracking(address, "subscriptions", "delete", subscription_id).returncode == 0
    missing = tracking(address, "subscriptions", "get", subscription_id)
    assert missing.returncode == 1
    assert "not found" in missing.stderr


def test_create_needs_exactly_one_target(make_server: ServerFactory) -> None:
    server = make_server()
    neither = tracking(server.address, "subscriptions", "create")
    assert neither.returncode == 2
    assert "exactly one of --webhook URL and --nats SUBJECT" in neither.stderr
    refused = tracking(server.address, "subscriptions", "create", "--webhook", "ftp://x/y")
    assert refused.returncode == 1
    assert "subscription.webhook.url" in refused.stderr
