"""Metric charts in a real browser: live while a job logs, a lone spike visible among 100,000
points, a deployment's executions compared, and names shown as text."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageWatch, Screenshot
from tests.support.cli import start_tracking
from tests.support.factories import unique
from tests.support.readme import metrics_example
from tests.support.server import ServerThread
from tests.support.waiting import wait_for
from tracking.client import TrackingClient

LONG = 60_000  # ms: generous, only so a hang fails instead of blocking the run
MARKUP = "<img src=x onerror=alert(1)>"


@pytest.fixture
def client(server: ServerThread) -> Iterator[TrackingClient]:
    with TrackingClient(server.address) as client:
        yield client


def chart(page: Page, name: str) -> str:
    return f'.metrics figure.chart[data-name="{name}"]'


def last_seq(page: Page, name: str) -> int:
    found = page.locator(chart(page, name)).get_attribute("data-last-seq")
    return int(found or 0)


TRAINING = textwrap.dedent(
    """
    import math, pathlib, sys, time
    from tracking.client import current_execution

    release = pathlib.Path(sys.argv[1])
    with current_execution() as job:
        step = 0
        while not release.exists() or step < 40:
            job.metric("loss", math.exp(-step / 30) + 0.02 * math.sin(step))
            job.metric("accuracy", 1 - math.exp(-step / 40))
            step += 1
            time.sleep(0.05)
    """
)


def test_the_chart_grows_while_a_tracking_run_job_logs_points(
    page: Page, server: ServerThread, client: TrackingClient, tmp_path: Path, screenshot: Screenshot
) -> None:
    release = tmp_path / "release"
    execution_id = unique("train")
    runner = start_tracking(
        server.address,
        "run", "--pipeline", "train", "--id", execution_id,
        "--", sys.executable, "-c", TRAINING, str(release),
    )  # fmt: skip
    try:
        wait_for(lambda: _has_points(client, execution_id), "the job's first points")
        page.goto(f"{server.http_url}/#/executions/{execution_id}")
        expect(page.locator(".metrics .live")).to_have_text("live", timeout=LONG)
        expect(page.locator(chart(page, "loss"))).to_have_attribute(
            "data-last-seq", re.compile(r"^[1-9]\d*$"), timeout=LONG
        )
        first = last_seq(page, "loss")
        wait_for(lambda: last_seq(page, "loss") > first + 20, "new points drawn without a reload")
        release.touch()
        _, err = runner.communicate(timeout=120)
        assert runner.returncode == 0, err
        expect(page.locator(".metrics .live")).to_have_text("ended", timeout=LONG)
        stored = client.list_metrics(execution_id).last_seq
        wait_for(
            lambda: max(last_seq(page, n) for n in ("loss", "accuracy")) == stored, "all drawn"
        )
        names = page.locator(".metrics .chart-name").all_text_contents()
        assert names == ["accuracy", "loss"]
        screenshot(page, "metrics-live", ".metrics")
    finally:
        if runner.poll() is None:
            runner.terminate()
            runner.wait(30)


def _has_points(client: TrackingClient, execution_id: str) -> bool:
    try:
        return bool(client.list_metrics(execution_id).series)
    except Exception:
        return False


def test_the_readme_example_draws_its_curve_and_its_spike(
    page: Page, server: ServerThread, tmp_path: Path, screenshot: Screenshot
) -> None:
    """The README's training script, run as printed; its chart is the README's picture."""
    example = metrics_example()
    (tmp_path / "loss.py").write_text(example.script)
    run = example.run
    run[run.index("python")] = sys.executable
    runner = start_tracking(server.address, *run[1:], cwd=tmp_path)
    assert runner.stderr is not None
    execution_id = runner.stderr.readline().split()[-1]
    page.goto(f"{server.http_url}/#/executions/{execution_id}")
    _, err = runner.communicate(timeout=120)
    assert runner.returncode == 0, err
    figure = page.locator(chart(page, "loss"))
    expect(figure).to_have_attribute("data-last-seq", "301", timeout=LONG)
    expect(page.locator(".metrics .live")).to_have_text("ended", timeout=LONG)
    # The spike of the last step is drawn, next to the curve that leads to it.
    assert figure.get_attribute("data-drawn-max") == "3"
    assert page.locator(".metrics .chart-name").all_text_contents() == ["loss"]
    screenshot(page, "metrics", ".metrics")


def test_one_spike_among_100000_points_is_visible_fully_zoomed_out(
    page: Page, server: ServerThread, client: TrackingClient
) -> None:
    execution_id = client.create_execution(pipeline_name="spiky").execution_id
    client.start(execution_id)
    for batch in range(100):
        client.log_metrics(
            execution_id,
            [
                ("loss", 1000.0 if batch * 1000 + i == 54_321 else 1.0 + (i % 10) / 100)
                for i in range(1000)
            ],
        )
    page.goto(f"{server.http_url}/#/executions/{execution_id}")
    figure = page.locator(chart(page, "loss"))
    expect(figure).to_have_attribute("data-last-seq", "100000", timeout=LONG)
    assert figure.get_attribute("data-drawn-max") == "1000"
    assert 0 < int(figure.get_attribute("data-buckets") or 0) <= 1000
    # Zoomed into a range without the spike: the buckets are read again for it.
    box = figure.locator(".u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 5, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    expect(figure.locator("button", has_text="Reset zoom")).to_be_visible(timeout=LONG)
    wait_for(lambda: figure.get_attribute("data-drawn-max") == "1.09", "the zoomed buckets")
    figure.locator("button", has_text="Reset zoom").click()
    expect(figure).to_have_attribute("data-drawn-max", "1000", timeout=LONG)


def test_the_deployment_page_compares_its_executions(
    page: Page, server: ServerThread, client: TrackingClient
) -> None:
    deployment = unique("compare")
    client.create_deployment(deployment, "pipe", "endpoint")
    ids = []
    for run in range(2):
        execution_id = client.create_execution(deployment_name=deployment).execution_id
        client.start(execution_id)
        client.log_metrics(execution_id, [("loss", 1.0 / (step + run + 1)) for step in range(50)])
        ids.append(execution_id)
    page.goto(f"{server.http_url}/#/deployments/{deployment}")
    comparison = page.locator("figure.chart.comparison")
    expect(comparison).to_have_attribute("data-series", "2", timeout=LONG)
    # Newest first, as the deployment lists them.
    expect(comparison.locator(".chart-legend li")).to_have_text(ids[::-1])
    expect(comparison.locator(".chart-name")).to_have_text("loss")


def test_markup_in_a_metric_name_is_shown_as_text(
    page: Page, server: ServerThread, client: TrackingClient, watch: PageWatch
) -> None:
    execution_id = client.create_execution(pipeline_name="markup").execution_id
    client.start(execution_id)
    client.log_metrics(execution_id, [(MARKUP, 1.0), (MARKUP, 2.0)])
    page.goto(f"{server.http_url}/#/executions/{execution_id}")
    expect(page.locator(".metrics .chart-name")).to_have_text(MARKUP, timeout=LONG)
    expect(page.locator(".metrics figure.chart")).to_have_attribute("data-last-seq", "2")
    assert page.locator("img").count() == 0
    assert watch.dialogs == []
