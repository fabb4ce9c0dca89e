"""The dashboard's subscriptions page: an admin sees where events go and why one fails,
pauses, resumes, sends a test event and reads the last deliveries; a reader is told the page
is for admins."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import PageWatch, Screenshot, open_page
from tests.conftest import ServerFactory
from tests.support.factories import new_token
from tests.support.receiver import Answer, receiving
from tests.support.waiting import wait_for
from tracking.client import TrackingClient
from tracking.v1 import subscription_pb2

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

            page.get_by_role("button", name="Sign out").click()
            page.get_by_label("Token").fill(reader)
            page.keyboard.press("Enter")
            page.goto(server.http_url + "/#/subscriptions")
            expect(page.get_by_role("alert")).to_contain_text("for admins", timeout=LONG)
        finally:
            page.context.close()
    assert watch.errors == []
