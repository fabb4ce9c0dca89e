"""Metrics from a job and on the command line: current_execution().metric() batching in the
background (flushed on flush() and at exit), `tracking report metric`, `tracking metrics`
with its sparklines, and `tracking metrics ID NAME -f` following a running job."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import one_error_line, start_tracking, tracking
from tests.support.factories import unique
from tests.support.server import ServerThread
from tests.support.waiting import wait_for
from tracking.client import NotFound, TrackingClient
from tracking.client.metric_batcher import MetricBatcher, MetricsNotStored
from tracking.v1 import status_pb2


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Iterator[TrackingClient]:
    with TrackingClient(server.address) as client:
        yield client


def running(client: TrackingClient) -> str:
    execution_id = client.create_execution(pipeline_name="train").execution_id
    client.start(execution_id)
    return execution_id


def points(client: TrackingClient, execution_id: str, name: str) -> list[tuple[int, float]]:
    (history,) = client.get_metric_history(execution_id, name, max_points=10_000).histories
    return [(p.step, p.value) for p in history.points]


JOB = textwrap.dedent(
    """
    import sys
    from tracking.client import current_execution

    job = current_execution()
    for step in range(2500):
        job.metric("loss", 1.0 / (step + 1))
    job.metric("accuracy", 0.5, step=10)
    job.flush()
    print("flushed", flush=True)
    job.metric("accuracy", 0.75, step=20)
    # No flush and no close: the points still queued are sent at exit.
    """
)


def test_a_job_logs_metrics_in_the_background_and_they_are_all_stored_at_exit(
    server: ServerThread, client: TrackingClient
) -> None:
    execution_id = unique("metrics")
    result = tracking(
        server.address,
        "run",
        "--pipeline",
        "train",
        "--id",
        execution_id,
        "--",
        sys.executable,
        "-c",
        JOB,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["flushed"]
    loss = points(client, execution_id, "loss")
    assert loss == [(step, 1.0 / (step + 1)) for step in range(2500)]
    assert points(client, execution_id, "accuracy") == [(10, 0.5), (20, 0.75)]


def test_a_batcher_says_which_points_were_not_stored(client: TrackingClient) -> None:
    execution_id = running(client)
    batcher = MetricBatcher(client, execution_id, interval=0.05)
    batcher.add("loss", 1.0)
    batcher.flush()
    client.stop(execution_id, status_pb2.RUNNING_STATUS_SUCCESS)
    batcher.add("loss", 2.0)
    with pytest.raises(MetricsNotStored) as refused:
        batcher.flush()
    assert refused.value.dropped == 1
    assert "FAILED_PRECONDITION" in str(refused.value)
    batcher.close()
    assert points(client, execution_id, "loss") == [(0, 1.0)]
    with pytest.raises(ValueError, match="must not be empty"):
        batcher.add("", 1.0)


def test_report_metric_and_the_metrics_table(server: ServerThread, client: TrackingClient) -> None:
    execution_id = running(client)
    for value in (3.0, 2.0, 8.0, 1.0):
        result = tracking(
            server.address, "report", "metric", "loss", str(value), "-e", execution_id
        )
        assert result.returncode == 0, result.stderr
    result = tracking(
        server.address, "report", "metric", "<b>acc</b>", "0.5", "--step", "7", "-e", execution_id
    )
    assert result.returncode == 0, result.stderr
    table = tracking(server.address, "metrics", execution_id)
    assert table.returncode == 0, table.stderr
    header, acc, loss = table.stdout.splitlines()
    assert header.split() == ["NAME", "POINTS", "STEPS", "LAST", "MIN", "MAX", "SHAPE"]
    assert acc.split() == ["<b>acc</b>", "1", "7-7", "0.5", "0.5", "0.5", "▁"]
    assert loss.split() == ["loss", "4", "0-3", "1", "1", "8", "▃▂█▁"]
    as_json = tracking(server.address, "metrics", execution_id, "loss", "-o", "json")
    assert [json.loads(line)["value"] for line in as_json.stdout.splitlines()] == [3, 2, 8, 1]


def test_report_metric_refusals(server: ServerThread, client: TrackingClient) -> None:
    execution_id = running(client)
    bad_name = tracking(server.address, "report", "metric", "a\tb", "1", "-e", execution_id)
    assert bad_name.returncode == 1
    assert "points[0].name" in one_error_line(bad_name)
    bad_value = tracking(server.address, "report", "metric", "loss", "high", "-e", execution_id)
    assert bad_value.returncode == 2
    assert "'VALUE'" in one_error_line(bad_value)
    missing = tracking(server.address, "metrics", "exec-000000000000")
    assert missing.returncode == 1
    assert one_error_line(missing).startswith("error: NOT_FOUND")


def test_metrics_follow_prints_points_until_the_job_ends(
    server: ServerThread, client: TrackingClient, tmp_path: Path
) -> None:
    go_on = tmp_path / "go-on"
    code = textwrap.dedent(
        f"""
        import pathlib, time
        from tracking.client import current_execution
        with current_execution() as job:
            job.metric("loss", 0.5)
            job.flush()
            while not pathlib.Path({str(go_on)!r}).exists():
                time.sleep(0.05)
            job.metric("loss", 0.25)
        """
    )
    execution_id = unique("metrics")
    runner = start_tracking(
        server.address,
        "run",
        "--pipeline",
        "train",
        "--id",
        execution_id,
        "--",
        sys.executable,
        "-c",
        code,
    )
    follower = None
    try:
        wait_for(lambda: _has_points(client, execution_id), "the job's first point")
        follower = start_tracking(server.address, "metrics", execution_id, "loss", "-f")
        assert follower.stdout is not None
        assert follower.stdout.readline() == "0 0.5\n"
        go_on.touch()
        assert runner.wait(60) == 0
        rest, _ = follower.communicate(timeout=60)
        assert rest.splitlines() == ["1 0.25"]
        assert follower.returncode == 0
    finally:
        for process in (runner, follower):
            if process is not None and process.poll() is None:
                process.kill()


def _has_points(client: TrackingClient, execution_id: str) -> bool:
    try:
        return bool(client.list_metrics(execution_id).series)
    except NotFound:
        return False
