"""The dashboard in a real browser: what a user sees, kept live without a reload."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import struct_pb2
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import PHONE, WIDE, PageWatch, Screenshot, open_page
from tests.conftest import ServerFactory
from tests.support.chaos import free_address
from tests.support.cli import start_tracking
from tests.support.factories import new_token, unique
from tests.support.process import ServerProcess
from tests.support.server import ServerThread
from tracking.client import TrackingClient
from tracking.v1 import io_pb2, status_pb2
from tracking.v1.execution_pb2 import LOG_STREAM_STDERR, LogEntry, Step

LONG = 60_000  # ms: generous, only so a hang fails instead of blocking the run
MARKUP = "<img src=x onerror=alert(1)>"


@pytest.fixture
def client(server: ServerThread) -> Iterator[TrackingClient]:
    with TrackingClient(server.address) as client:
        yield client


def end_runner(runner: subprocess.Popen[str]) -> None:
    """Stop a `tracking run` and its command: SIGTERM stops the command as a cancel would
    (its command runs in a process group of its own, out of reach of a SIGKILL here)."""
    if runner.poll() is None:
        runner.terminate()
        try:
            runner.wait(30)
        except subprocess.TimeoutExpired:
            runner.kill()
            runner.wait(30)


def row(page: Page, execution_id: str) -> Locator:
    return page.locator(f'tr[data-id="{execution_id}"]')


def same_document(page: Page) -> None:
    """Marks the document, so a later check can tell it was never reloaded."""
    page.evaluate("window.__sameDocument = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def assert_fits(page: Page, viewport: dict[str, int]) -> None:
    """Nothing wider than the window: the page itself never scrolls sideways."""
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def test_the_list_shows_a_new_execution_and_its_status_changes_live(
    page: Page, server: ServerThread, client: TrackingClient, screenshot: Screenshot
) -> None:
    deployment = unique("list")
    client.create_deployment(deployment, "train-pipeline", "periodic", schedule="0 3 * * *")
    page.goto(server.http_url + "/")
    expect(page.locator(".execution-list .live")).to_have_text("live", timeout=LONG)
    same_document(page)

    execution = client.create_execution(
        deployment_name=deployment, job_name="fit resnet", labels={"team": "vision"}
    )
    listed = row(page, execution.execution_id)
    expect(listed).to_contain_text("fit resnet", timeout=LONG)
    expect(listed).to_contain_text(deployment)
    expect(listed.locator(".badge")).to_have_text("Waiting")

    client.start(execution.execution_id)
    expect(listed.locator(".badge")).to_have_text("Running", timeout=LONG)
    client.update_progress(execution.execution_id, 0.4, phase="epoch 4/10")
    expect(listed.locator(".progress")).to_contain_text("40%", timeout=LONG)
    expect(listed.locator(".phase")).to_have_text("epoch 4/10")
    client.stop(execution.execution_id, "success")
    expect(listed.locator(".badge")).to_have_text("Success", timeout=LONG)
    assert_not_reloaded(page)

    # A change that commits while the page fetches a new row is not lost to that fetch.
    started = [
        client.create_execution(deployment_name=deployment, job_name=f"burst {i}").execution_id
        for i in range(8)
    ]
    for execution_id in started:
        client.start(execution_id)
    for execution_id in started:
        expect(row(page, execution_id).locator(".badge")).to_have_text("Running", timeout=LONG)

    # Filtered by deployment and label: the same live behaviour on its own stream.
    page.goto(f"{server.http_url}/#/?deployment={deployment}&label=team%3Dvision")
    expect(row(page, execution.execution_id)).to_be_visible(timeout=LONG)
    expect(page.locator(".execution-list .live")).to_have_text("live", timeout=LONG)
    same_document(page)
    other = client.create_execution(deployment_name=deployment, job_name="fit other")
    second = client.create_execution(
        deployment_name=deployment, job_name="fit vit", labels={"team": "vision"}
    )
    expect(row(page, second.execution_id)).to_contain_text("fit vit", timeout=LONG)
    expect(page.locator("tbody tr").first).to_have_attribute("data-id", second.execution_id)
    expect(row(page, other.execution_id)).to_have_count(0)
    client.start(second.execution_id)
    client.update_progress(second.execution_id, 0.7, phase="epoch 7/10")
    expect(row(page, second.execution_id).locator(".phase")).to_have_text("epoch 7/10")
    assert_not_reloaded(page)
    screenshot(page, "executions-live")

    # A bad filter reads as the server's message.
    page.goto(f"{server.http_url}/#/?label=Bad%20Key%3Dx")
    expect(page.locator(".execution-list .message")).to_contain_text("filter", timeout=LONG)


CHILD = (
    "import os, sys, time\n"
    "release = sys.argv[1]\n"
    "for i in range(50): print(f'line {i}', flush=True)\n"
    "print('warning: slow disk', file=sys.stderr, flush=True)\n"
    "while not os.path.exists(release): time.sleep(0.05)\n"
    "for i in range(50, 300):\n"
    "    print(f'line {i}', flush=True)\n"
    "    time.sleep(0.01)\n"
)


def test_the_execution_page_follows_logs_across_a_server_restart(
    page: Page, fresh_database: str, tmp_path: Path, screenshot: Screenshot
) -> None:
    address, http_address = free_address(), free_address()
    release = tmp_path / "release"
    execution_id = unique("restart")
    server = ServerProcess(fresh_database, address=address, http_address=http_address).start()
    runner = start_tracking(
        address,
        "run", "--pipeline", "restart", "--id", execution_id,
        "--", sys.executable, "-c", CHILD, str(release),
    )  # fmt: skip
    assert runner.stderr is not None
    try:
        assert runner.stderr.readline().startswith("tracking: execution ")
        page.goto(f"{server.http_url}/#/executions/{execution_id}")
        log = page.locator("ol.log")
        expect(log.locator("li", has_text="line 49")).to_have_count(1, timeout=LONG)
        expect(log.locator("li.stderr .msg")).to_have_text("warning: slow disk", timeout=LONG)
        same_document(page)
        server.kill()
        expect(page.locator(".logs .live")).to_have_text("reconnecting…", timeout=LONG)
        release.touch()
        time.sleep(1)  # the command writes on while no server is there
        server = ServerProcess(fresh_database, address=address, http_address=http_address).start()
        _, err = runner.communicate(timeout=120)
        assert runner.returncode == 0, err
        expect(page.locator(".logs .live")).to_have_text("ended: no more lines", timeout=LONG)
        expect(page.locator(".title .badge")).to_have_text("Success", timeout=LONG)
        assert_not_reloaded(page)
        screenshot(page, "execution-logs")
        seqs = [
            int(s)
            for s in log.locator("li").evaluate_all("(lis) => lis.map((li) => li.dataset.seq)")
        ]
        messages = log.locator("li .msg").all_text_contents()
    finally:
        end_runner(runner)
        server.kill()
    assert seqs == list(range(1, 302))
    assert [m for m in messages if m.startswith("line ")] == [f"line {i}" for i in range(300)]
    assert messages.count("warning: slow disk") == 1


LOOP = "import itertools, time\nfor i in itertools.count():\n    print(f'tick {i}', flush=True)\n    time.sleep(0.2)\n"


def test_the_cancel_button_ends_a_running_job_canceled(
    page: Page, server: ServerThread, client: TrackingClient
) -> None:
    execution_id = unique("cancel")
    runner = start_tracking(
        server.address, "run", "--pipeline", "cancel", "--id", execution_id,
        "--", sys.executable, "-c", LOOP,
    )  # fmt: skip
    assert runner.stderr is not None
    try:
        assert runner.stderr.readline().startswith("tracking: execution ")
        page.goto(f"{server.http_url}/#/executions/{execution_id}")
        expect(page.locator("ol.log li", has_text="tick 2")).to_have_count(1, timeout=LONG)
        expect(page.locator(".title .badge")).to_have_text("Running")
        page.get_by_role("button", name="Cancel execution").click()
        page.get_by_role("button", name="Yes, cancel it").click()
        expect(page.locator(".title .badge")).to_have_text("Canceled", timeout=LONG)
        expect(page.get_by_role("button", name="Cancel execution")).to_have_count(0)
        runner.communicate(timeout=60)
    finally:
        end_runner(runner)
    status = client.get_job_status(execution_id)
    assert status.status == status_pb2.RUNNING_STATUS_CANCELED
    expect(page.locator(".panel", has_text="Cancel reason")).to_contain_text("from the dashboard")


def test_sign_in_with_auth_on_refuses_a_bad_token_and_readers_cannot_cancel(
    browser: Browser, make_server: ServerFactory, screenshot: Screenshot
) -> None:
    server = make_server(auth="on", http_address="127.0.0.1:0")
    _, reader = new_token(server, "READER", "ana")
    _, writer = new_token(server, "WRITER", "ci-bot")
    watch = PageWatch()
    page = open_page(browser, watch)
    try:
        page.goto(server.http_url + "/")
        token = page.get_by_label("Token")
        expect(token).to_be_focused(timeout=LONG)
        token.fill("tok_000000000000_not-a-real-secret")
        page.keyboard.press("Enter")
        expect(page.get_by_role("alert")).to_contain_text("Token refused", timeout=LONG)
        expect(page.locator("h1")).to_have_text("Sign in")
        screenshot(page, "sign-in-refused")

        token.fill(reader)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator(".session .who")).to_have_text("ana (reader)", timeout=LONG)
        expect(page.locator(".execution-list .live")).to_have_text("live", timeout=LONG)

        # The cookie authenticates the stream too: a job the writer creates shows up live.
        with TrackingClient(server.address, token=writer) as client:
            execution = client.create_execution(pipeline_name="p", job_name="guarded job")
            client.start(execution.execution_id)
        listed = row(page, execution.execution_id)
        expect(listed.locator(".badge")).to_have_text("Running", timeout=LONG)

        listed.get_by_role("link", name="guarded job").click()
        page.get_by_role("button", name="Cancel execution").click()
        page.get_by_role("button", name="Yes, cancel it").click()
        expect(page.get_by_role("alert").first).to_contain_text("Cancel refused", timeout=LONG)
        expect(page.locator(".title .badge")).to_have_text("Running")

        page.get_by_role("button", name="Sign out").click()
        expect(page.locator("h1")).to_have_text("Sign in", timeout=LONG)
        page.reload()
        expect(page.locator("h1")).to_have_text("Sign in", timeout=LONG)
    finally:
        page.context.close()
    assert watch.errors == []


def test_markup_in_names_and_log_lines_is_shown_as_text(
    page: Page, server: ServerThread, client: TrackingClient, watch: PageWatch
) -> None:
    deployment = unique("markup")
    client.create_deployment(deployment, "pipe", "endpoint")
    execution = client.create_execution(
        deployment_name=deployment, job_name=MARKUP, labels={"note": "x"}, steps=[Step(name=MARKUP)]
    )
    client.start(execution.execution_id)
    client.update_progress(execution.execution_id, 0.5, phase=MARKUP)
    client.append_logs(
        execution.execution_id, [MARKUP, LogEntry(message=MARKUP, stream=LOG_STREAM_STDERR)]
    )
    client.set_execution_outputs(
        execution.execution_id,
        outputs=[io_pb2.ExecutionOutput(name=MARKUP, data_type="string")],
        result={"html": MARKUP},
    )
    page.goto(f"{server.http_url}/#/?deployment={deployment}")
    expect(row(page, execution.execution_id).locator(".job")).to_have_text(MARKUP, timeout=LONG)
    expect(row(page, execution.execution_id).locator(".phase")).to_have_text(MARKUP)

    page.goto(f"{server.http_url}/#/executions/{execution.execution_id}")
    expect(page.locator("h1")).to_have_text(MARKUP, timeout=LONG)
    expect(page.locator("ol.log li .msg")).to_have_text([MARKUP, MARKUP], timeout=LONG)
    expect(page.locator("ol.log li.stderr .tag")).to_have_text("err")
    expect(page.locator(".timeline .step strong")).to_have_text(MARKUP)
    expect(page.locator(".panel", has_text="Result").locator("pre")).to_contain_text(MARKUP)
    assert page.locator("img").count() == 0
    assert watch.dialogs == []


# A job as `tracking run` names it, and the exact argv it keeps.
TYPED = 'python train.py --epochs 10 --note "Ada\'s first try" --data clicks.parquet'
COMMAND = [
    "python",
    "train.py",
    "--epochs",
    "10",
    "--note",
    "Ada's first try",
    "--data",
    "clicks.parquet",
]


# A Struct keeps no order of its keys: the page sorts them, as -o json does.
RESULT = {"per_class": {"skip": 0.9, "click": 0.95}, "best_epoch": 5, "accuracy": 0.931}


def words_broken(page: Page, selector: str) -> list[str]:
    """The words of the texts in `selector` that wrap in their middle."""
    return list(
        page.evaluate(
            """(selector) => {
              const broken = [];
              const walker = document.createTreeWalker(
                document.querySelector(selector), NodeFilter.SHOW_TEXT
              );
              for (let text = walker.nextNode(); text; text = walker.nextNode()) {
                let at = 0;
                for (const word of text.data.split(" ")) {
                  const range = document.createRange();
                  range.setStart(text, at);
                  range.setEnd(text, at + word.length);
                  if (word && range.getClientRects().length > 1) broken.push(word);
                  at += word.length + 1;
                }
              }
              return broken;
            }""",
            selector,
        )
    )


def test_a_deployment_shows_its_schedule_mappings_and_executions_at_any_width(
    browser: Browser, server: ServerThread, client: TrackingClient, screenshot: Screenshot
) -> None:
    name = unique("nightly")
    client.create_deployment(
        name,
        "train-pipeline",
        "periodic",
        schedule="0 3 * * *",
        description="Retrains the ranking model every night.",
        inputs_mapping=[
            io_pb2.InputMapping(
                pipeline_input_name="dataset",
                data_type="file",
                source=io_pb2.INPUT_SOURCE_DATASTORE,
                datastore_path="datasets/clicks.parquet",
                is_required=True,
            ),
            io_pb2.InputMapping(
                pipeline_input_name="epochs",
                data_type="number",
                source=io_pb2.INPUT_SOURCE_CONSTANT,
                constant_value="10",
            ),
        ],
        outputs_mapping=[
            io_pb2.OutputMapping(
                pipeline_output_name="model",
                data_type="file",
                destination=io_pb2.OUTPUT_DESTINATION_DATASTORE,
                datastore_path="models/ranker",
            )
        ],
        labels={"team": "ml"},
    )
    # Earlier runs, in the states a list usually shows.
    for job, end in (("fit lr=0.1", "success"), ("fit lr=0.3", "error"), ("fit lr=1.0", "")):
        earlier = client.create_execution(deployment_name=name, job_name=job, job_type="train")
        client.start(earlier.execution_id)
        client.update_progress(earlier.execution_id, 0.3, phase="epoch 3/10")
        if end:
            client.stop(earlier.execution_id, end, "" if end == "success" else "loss is NaN")
        else:
            client.cancel_execution(earlier.execution_id, reason="superseded")
            client.stop(earlier.execution_id, "canceled", "canceled by the user")
    client.create_execution(deployment_name=name, job_name="export predictions")
    described = client.get_deployment(name)
    assert described.human_readable_schedule, "the server describes PERIODIC schedules"
    execution = client.create_execution(
        deployment_name=name,
        job_name=TYPED,
        command=COMMAND,
        job_type="train",
        inputs=[
            io_pb2.ExecutionInput(
                name="epochs",
                data_type="number",
                source=io_pb2.INPUT_SOURCE_CONSTANT,
                constant_value="10",
                value=struct_pb2.Value(number_value=10),
            )
        ],
    )
    eid = execution.execution_id
    client.start(eid)
    client.update_step(eid, Step(name="load data", status=status_pb2.RUNNING_STATUS_SUCCESS))
    client.update_step(eid, Step(name="train", status=status_pb2.RUNNING_STATUS_RUNNING))
    client.update_progress(eid, 0.6, phase="epoch 6/10")
    client.append_logs(eid, [f"epoch {i}: loss={1 / (i + 1):.3f}" for i in range(1, 7)])
    client.append_logs(
        eid, [LogEntry(message="warning: learning rate clipped", stream=LOG_STREAM_STDERR)]
    )
    client.append_logs(eid, ["\x1b[1;32mvalidation passed\x1b[0m"])  # colours a job wrote
    client.set_execution_outputs(
        eid,
        result=RESULT,
        export_paths={"predictions": "exports/predictions.parquet"},
    )

    watch = PageWatch()
    for viewport, suffix in ((WIDE, ""), (PHONE, "-phone")):
        page = open_page(browser, watch, viewport)
        try:
            page.goto(f"{server.http_url}/#/deployments/{name}")
            expect(page.locator("h1")).to_have_text(name, timeout=LONG)
            how = page.locator(".panel", has_text="How it runs")
            expect(how).to_contain_text(described.human_readable_schedule, timeout=LONG)
            expect(how).to_contain_text("0 3 * * * (UTC)")
            expect(how).to_contain_text("Next run")
            inputs = page.locator(".panel", has_text="Inputs mapping")
            expect(inputs).to_contain_text("datasets/clicks.parquet")
            expect(page.locator(".panel", has_text="Outputs mapping")).to_contain_text(
                "models/ranker"
            )
            expect(row(page, eid).locator(".phase")).to_have_text("epoch 6/10", timeout=LONG)
            compared = page.locator(".panel", has_text="Metrics of the last")
            expect(compared).to_contain_text("No metrics reported.", timeout=LONG)
            expect(page.locator(".live").first).to_have_text("live", timeout=LONG)
            assert_fits(page, viewport)
            screenshot(page, f"deployment{suffix}")

            page.goto(f"{server.http_url}/#/executions/{eid}")
            expect(page.locator(".timeline .step")).to_have_count(2, timeout=LONG)
            expect(page.locator("ol.log li.stderr .msg")).to_have_text(
                "warning: learning rate clipped"
            )
            result = page.locator(".panel", has_text="Result").locator("pre")
            expect(result).to_have_text(json.dumps(RESULT, indent=2, sort_keys=True))
            expect(page.locator("ol.log li .msg").last).to_have_text("validation passed")
            about = page.locator(".panel", has_text="About")
            # The exact argv, quoted as typed: the same words as the title here.
            expect(about.locator("code.command")).to_have_text(TYPED)
            expect(page.locator("h1")).to_have_text(TYPED)
            assert words_broken(page, "h1") == [], "a word of the title is broken across lines"
            assert words_broken(page, "code.command") == [], "a word of the command is broken"
            expect(page.locator(".metrics .live")).to_have_text("live", timeout=LONG)
            assert_fits(page, viewport)
            screenshot(page, f"execution{suffix}")
            page.goto(f"{server.http_url}/#/?deployment={name}")
            expect(row(page, eid)).to_be_visible(timeout=LONG)
            expect(page.locator("form.filters input[name=deployment]")).to_have_value(name)
            expect(page.locator(".live")).to_have_text("live", timeout=LONG)
            assert words_broken(page, "a.job") == [], "a word of the job's name is broken"
            assert_fits(page, viewport)
            screenshot(page, f"executions{suffix}")
        finally:
            page.context.close()
    page = open_page(browser, watch)
    try:
        page.goto(f"{server.http_url}/#/deployments")
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible(timeout=LONG)
        screenshot(page, "deployments")
    finally:
        page.context.close()
    assert watch.errors == []


def test_the_log_tail_pauses_resumes_stays_bounded_and_downloads_every_line(
    page: Page, server: ServerThread, client: TrackingClient, tmp_path: Path
) -> None:
    execution = client.create_execution(pipeline_name="p", job_name="chatty")
    eid = execution.execution_id
    client.start(eid)
    for start in range(0, 6000, 2000):
        client.append_logs(eid, [f"old {i}" for i in range(start, start + 2000)])
    page.goto(f"{server.http_url}/#/executions/{eid}")
    lines = page.locator("ol.log li")
    # The last 500 lines first.
    expect(lines).to_have_count(500, timeout=LONG)
    expect(lines.first).to_have_attribute("data-seq", "5501")
    expect(page.locator(".logs .notice")).to_contain_text("Showing from line 5501")

    page.get_by_role("button", name="Pause").click()
    client.append_logs(eid, ["while paused"])
    expect(page.locator(".logs .notice")).to_contain_text(
        "Paused: 1 new line waiting", timeout=LONG
    )
    expect(lines).to_have_count(500)
    page.get_by_role("button", name="Resume").click()
    expect(lines.last.locator(".msg")).to_have_text("while paused")

    # More than the page keeps: the oldest lines go, the newest stay.
    for start in range(0, 5000, 2500):
        client.append_logs(eid, [f"new {i}" for i in range(start, start + 2500)])
    expect(lines.last.locator(".msg")).to_have_text("new 4999", timeout=LONG)
    expect(lines).to_have_count(5000)
    expect(lines.first).to_have_attribute("data-seq", str(11001 - 5000 + 1))

    with page.expect_download() as download:
        page.get_by_role("button", name="Download all lines").click()
    saved = tmp_path / "all.log"
    download.value.save_as(saved)
    assert saved.read_text().splitlines() == [
        *(f"old {i}" for i in range(6000)),
        "while paused",
        *(f"new {i}" for i in range(5000)),
    ]


def test_a_malformed_address_shows_not_found(page: Page, server: ServerThread) -> None:
    page.goto(f"{server.http_url}/#/%E0")
    expect(page.locator("h1")).to_have_text("Not found", timeout=LONG)
    page.get_by_role("link", name="Executions").first.click()
    expect(page.locator("h1")).to_have_text("Executions", timeout=LONG)


def test_an_ended_execution_without_outputs_says_so_plainly(
    page: Page, server: ServerThread, client: TrackingClient
) -> None:
    execution = client.create_execution(pipeline_name="p", job_name="quiet job")
    client.start(execution.execution_id)
    client.stop(execution.execution_id, "SUCCESS")
    page.goto(f"{server.http_url}/#/executions/{execution.execution_id}")
    expect(page.locator(".panel", has_text="Outputs")).to_contain_text("No outputs.", timeout=LONG)
    expect(page.get_by_text("No outputs yet.")).to_have_count(0)
    expect(page.get_by_text("No result.", exact=True)).to_be_visible()
    logs = page.locator(".panel.logs")
    expect(logs).to_contain_text("No log lines.")
    expect(logs.locator("ol.log")).to_have_count(0)  # no empty box
    expect(logs.get_by_role("button", name="Pause")).to_be_hidden()  # nothing more will come
    expect(logs.get_by_role("button", name="Download all lines")).to_be_hidden()


def test_a_missing_execution_shows_its_message_alone(page: Page, server: ServerThread) -> None:
    page.goto(f"{server.http_url}/#/executions/no-such-execution")
    expect(page.get_by_role("alert")).to_contain_text("not found", timeout=LONG)
    expect(page.get_by_role("alert")).to_have_count(1)  # said once
    expect(page.locator(".panel")).to_have_count(0)  # no empty cards
    expect(page.get_by_role("button")).to_have_count(0)  # nothing to press
