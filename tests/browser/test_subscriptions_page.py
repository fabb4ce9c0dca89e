"""The dashboard's subscriptions page: an admin sees where events go, what each admits and
why one fails, creates one (its secret shown once, a bad URL refused with the field named),
pauses, resumes, sends a test event, reads the last deliveries and deletes; a reader is told
the page is for admins."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import PageWatch, Screenshot, open_page
from tests.conftest import ServerFactory
from tests.support.factories import new_token
from tests.support.receiver import Answer, receiving
from tests.support.subscribing import verified_event
from tests.support.waiting import wait_for
from tracking.client import TrackingClient
from tracking.v1 import status_pb2, subscription_pb2

LONG = 60_000  # ms: only so a hang fails instead of blocking the run


def test_an_admin_manages_subscriptions_and_a_reader_is_refused(
    browser: Browser, make_server: ServerFactory, screenshot: Screenshot
) -> None:
    server = make_server(
        auth="on",
        http_address="127.0.0.1:0",
        outbound_allow_private_addresses=True,
        outbound_max_age_seconds=0.5,
        outbound_retry_base_seconds=0.05,
    )
    _, admin = new_token(server, "ADMIN", "ops")
    _, reader = new_token(server, "READER", "ana")
    watch = PageWatch()
    page = open_page(browser, watch)
    with receiving() as healthy, receiving(lambda _: Answer(500, body_bytes=12)) as broken:
        with TrackingClient(server.address, token=admin) as client:
            client.create_subscription("builds", webhook=healthy.url)
            bad = client.create_subscription("broken hook", webhook=broken.url).subscription
            client.create_execution(pipeline_name="p", job_name="watched")
            wait_for(
                lambda: (
                    client.get_subscription(bad.subscription_id).state
                    == subscription_pb2.SUBSCRIPTION_STATE_FAILING
                ),
                "the broken hook marked failing",
            )
            wait_for(lambda: healthy.bodies(), "the healthy hook's event")
        try:
            page.goto(server.http_url + "/#/subscriptions")
            page.get_by_label("Token").fill(admin)
            page.keyboard.press("Enter")
            expect(page.locator("h1")).to_have_text("Subscriptions", timeout=LONG)
            broken_row = page.locator("tr", has_text="broken hook")
            expect(broken_row.locator(".badge")).to_have_text("Failing", timeout=LONG)
            expect(broken_row).to_contain_text("HTTP 500")
            good_row = page.locator("tr", has_text="builds")
            expect(good_row.locator(".badge")).to_have_text("Active")
            screenshot(page, "subscriptions")

            good_row.get_by_role("button", name="Pause").click()
            expect(good_row.locator(".badge")).to_have_text("Paused", timeout=LONG)
            good_row.get_by_role("button", name="Resume").click()
            expect(good_row.locator(".badge")).to_have_text("Active", timeout=LONG)
            good_row.get_by_role("button", name="Send test").click()
            expect(page.get_by_role("status")).to_contain_text("Test event delivered", timeout=LONG)
            good_row.get_by_role("button", name="Deliveries").click()
            expect(page.locator("section", has_text="Last deliveries of builds")).to_contain_text(
                "delivered", timeout=LONG
            )

            form = page.locator("form.create")
            form.get_by_label("Name").fill("from the page")
            form.get_by_label("Webhook URL").fill("ftp://example.com/hook")
            form.get_by_role("button", name="Create").click()
            expect(form.get_by_role("alert")).to_contain_text(
                "subscription.webhook.url: must be http or https", timeout=LONG
            )
            form.get_by_label("Webhook URL").fill(healthy.url)
            form.get_by_label("Success").check()
            form.get_by_label("Status changed").check()
            form.get_by_role("button", name="Create").click()
            expect(page.get_by_role("status")).to_contain_text("shown only this once", timeout=LONG)
            secret = page.locator("code.secret").inner_text()
            assert secret.startswith("whsec_")
            made = page.locator("tr", has_text="from the page")
            expect(made).to_contain_text("kinds Execution status changed; statuses Success")
            expect(made.locator(".badge")).to_have_text("Active")
            screenshot(page, "subscriptions-created")
            # Shown once: the list never holds it, nor the page read again.
            page.get_by_role("button", name="Refresh").click()
            expect(page.locator("code.secret")).to_have_count(0, timeout=LONG)
            page.reload()
            expect(page.locator("tr", has_text="from the page")).to_have_count(1, timeout=LONG)
            assert secret not in page.content()
            with TrackingClient(server.address, token=admin) as client:
                execution = client.create_execution(pipeline_name="p", job_name="finished")
                client.start(execution.execution_id)
                client.stop(execution.execution_id, status_pb2.RUNNING_STATUS_SUCCESS)
            # The page's subscription signs with the secret it showed (the hook also gets the
            # same change from the subscription made before, signed with that one's secret).
            wait_for(
                lambda: any(
                    execution.execution_id.encode() in received.body
                    and b"SUCCESS" in received.body
                    and b"status_changed" in received.body
                    and _verifies(received, secret)
                    for received in healthy.bodies()
                ),
                "the page's subscription's event, signed with the secret it showed",
            )

            made.get_by_role("button", name="Delete").click()
            made.get_by_role("button", name="Really delete").click()
            expect(page.locator("tr", has_text="from the page")).to_have_count(0, timeout=LONG)
            expect(page.get_by_role("status")).to_contain_text("from the page: deleted")

            page.get_by_role("button", name="Sign out").click()
            page.get_by_label("Token").fill(reader)
            page.keyboard.press("Enter")
            page.goto(server.http_url + "/#/subscriptions")
            expect(page.get_by_role("alert")).to_contain_text("for admins", timeout=LONG)
        finally:
            page.context.close()
    assert watch.errors == []


def _verifies(received: object, secret: str) -> bool:
    try:
        verified_event(received, secret)  # type: ignore[arg-type]
    except Exception:
        return False
    return True
