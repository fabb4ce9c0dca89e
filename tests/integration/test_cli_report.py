"""A job reports on itself from inside `tracking run`: `tracking report` and current_execution()."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import json_format

from tests.support.cli import cli_env, one_error_line, start_tracking, tracking
from tests.support.factories import unique
from tests.support.process import TRACKING
from tests.support.server import ServerThread
from tests.support.terminal import Screen
from tests.support.waiting import wait_for
from tracking.client import (
    NoCurrentExecution,
    NotFound,
    TrackingClient,
    current_execution,
    from_struct,
    from_value,
)
from tracking.v1 import execution_pb2, status_pb2

S = status_pb2


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Iterator[TrackingClient]:
    with TrackingClient(server.address) as client:
        yield client


@pytest.fixture
def deployment(client: TrackingClient) -> str:
    name = unique("report")
    client.create_deployment(name, "scripts", "ENDPOINT")
    return name


def changes(client: TrackingClient, execution_id: str) -> list[tuple[float, str]]:
    """(progress, phase) of every progress change the execution went through."""
    return [
        (e.job_status.progress, e.job_status.phase)
        for e in client.watch(execution_id=execution_id, after_revision=1)
        if execution_pb2.CHANGE_KIND_PROGRESS in e.changes
    ]


JOB = textwrap.dedent(
    f"""
    import os, subprocess, sys
    from tracking.client import current_execution

    print("running as", os.environ["TRACKING_EXECUTION_ID"], flush=True)
    with current_execution() as job:
        job.progress(0.5, "halfway")
        job.output("model", {{"path": "/models/7"}}, "json")
        job.result({{"accuracy": 0.93}})
        job.step("fit", "success")
    report = [{str(TRACKING)!r}, "report"]
    subprocess.run([*report, "progress", "0.75", "--phase", "evaluating"], check=True)
    subprocess.run([*report, "output", "rows", "1200"], check=True)
    subprocess.run([*report, "result", "--set", "loss=0.21", "--set", "best=true"], check=True)
    subprocess.run([*report, "step", "evaluate", "--status", "running"], check=True)
    """
)


def test_a_job_reports_progress_outputs_results_and_steps_from_inside_tracking_run(
    server: ServerThread, client: TrackingClient, deployment: str
) -> None:
    execution_id = unique("report")
    command = [sys.executable, "-c", JOB]
    result = tracking(server.address, "run", "-d", deployment, "--id", execution_id, "--", *command)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"running as {execution_id}"]

    execution = client.get_execution(execution_id)
    assert list(execution.command) == command
    assert execution.job_name.startswith(f"{sys.executable} -c ")
    assert changes(client, execution_id) == [(0.5, "halfway"), (0.75, "evaluating")]
    outputs = {o.name: o for o in execution.outputs}
    assert outputs["model"].data_type == "json"
    assert outputs["model"].value.struct_value["path"] == "/models/7"
    assert outputs["rows"].value.number_value == 1200
    # `tracking report result` replaces the result that current_execution() set.
    assert dict(execution.result) == {"loss": 0.21, "best": True}
    steps = {s.name: s.status for s in execution.steps}
    assert steps == {"fit": S.RUNNING_STATUS_SUCCESS, "evaluate": S.RUNNING_STATUS_RUNNING}
    assert execution.job_status.status == S.RUNNING_STATUS_SUCCESS


def test_the_command_is_told_how_to_reach_the_server(
    server: ServerThread, client: TrackingClient, deployment: str
) -> None:
    code = "import os; print(os.environ['TRACKING_ADDRESS'], os.environ['TRACKING_TOKEN'])"
    env = cli_env(server.address, TRACKING_TOKEN="not-checked-on-loopback")
    result = tracking(
        server.address, "run", "-d", deployment, "--", sys.executable, "-c", code, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [server.address, "not-checked-on-loopback"]


def test_tracking_watch_shows_the_progress_a_tracking_run_job_reports(
    server: ServerThread, client: TrackingClient, deployment: str, tmp_path: Path
) -> None:
    go_on = tmp_path / "go-on"
    code = textwrap.dedent(
        f"""
        import os, pathlib, time
        from tracking.client import current_execution
        with current_execution() as job:
            job.progress(0.5, "epoch 5/10")
            while not pathlib.Path({str(go_on)!r}).exists():
                time.sleep(0.05)
        """
    )
    execution_id = unique("report")
    runner = start_tracking(
        server.address,
        "run",
        "-d",
        deployment,
        "--id",
        execution_id,
        "--",
        sys.executable,
        "-c",
        code,
    )
    wait_for(lambda: exists(client, execution_id), "tracking run to create the execution")
    # On a terminal, `tracking watch` draws a progress bar.
    main, terminal = os.openpty()
    watcher = subprocess.Popen(
        [str(TRACKING), "watch", execution_id],
        stdout=terminal,
        stderr=terminal,
        env={**cli_env(server.address), "COLUMNS": "100"},
    )
    os.close(terminal)
    screen = Screen(main)
    try:
        wait_for(
            lambda: b"epoch 5/10" in screen.read() or watcher.poll() is not None,
            "the progress bar at 50%",
            guard=60,
        )
        assert b"epoch 5/10" in screen.drawn, screen.drawn.decode(errors="replace")
        assert b" 50%" in screen.drawn
        go_on.touch()
        assert watcher.wait(60) == 0
        assert runner.wait(60) == 0
        assert b"100%" in screen.read_to_end()
    finally:
        os.close(main)
        for process in (watcher, runner):
            if process.poll() is None:
                process.kill()


def exists(client: TrackingClient, execution_id: str) -> bool:
    try:
        client.get_execution(execution_id)
    except NotFound:
        return False
    return True


def test_report_outside_a_job_says_how_to_name_one(server: ServerThread) -> None:
    result = tracking(server.address, "report", "progress", "0.5")
    assert result.returncode == 2
    line = one_error_line(result)
    assert "TRACKING_EXECUTION_ID is not set" in line
    assert "--execution" in line


@pytest.mark.parametrize("fraction", ["1.5", "-0.1", "half"])
def test_report_progress_outside_0_to_1_is_refused_before_any_call(
    server: ServerThread, client: TrackingClient, fraction: str
) -> None:
    execution_id = client.create_execution(pipeline_name="p").execution_id
    client.start(execution_id)
    before = client.get_job_status(execution_id)
    result = tracking(
        server.address, "report", "progress", "--execution", execution_id, "--", fraction
    )
    assert result.returncode == 2
    assert "'FRACTION'" in one_error_line(result)
    assert client.get_job_status(execution_id).revision == before.revision


def test_report_of_a_job_that_is_not_running_is_the_servers_refusal(
    server: ServerThread, client: TrackingClient
) -> None:
    execution_id = client.create_execution(pipeline_name="p").execution_id
    result = tracking(server.address, "report", "progress", "0.5", "-e", execution_id)
    assert result.returncode == 1
    assert one_error_line(result).startswith("error: FAILED_PRECONDITION: cannot report progress")
    missing = tracking(server.address, "report", "heartbeat", "-e", "no-such-job")
    assert missing.returncode == 1
    assert "NOT_FOUND" in one_error_line(missing)


def test_report_result_reads_a_json_file(
    server: ServerThread, client: TrackingClient, tmp_path: Path
) -> None:
    execution_id = client.create_execution(pipeline_name="p").execution_id
    client.start(execution_id)
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"epochs": 10, "scores": [0.5, 0.75]}))
    result = tracking(
        server.address, "report", "result", str(path), "--set", "epochs=12", "-e", execution_id
    )
    assert result.returncode == 0, result.stderr
    assert json_format.MessageToDict(client.get_execution(execution_id).result) == {
        "epochs": 12,
        "scores": [0.5, 0.75],
    }
    path.write_text("[1, 2]")
    refused = tracking(server.address, "report", "result", str(path), "-e", execution_id)
    assert refused.returncode == 2
    assert "must hold a JSON object" in one_error_line(refused)
    bad_status = tracking(
        server.address, "report", "step", "fit", "--status", "great", "-e", execution_id
    )
    assert bad_status.returncode == 2
    assert "--status" in one_error_line(bad_status)


def test_whole_numbers_read_back_whole_in_python_and_the_cli(
    server: ServerThread, client: TrackingClient
) -> None:
    execution_id = client.create_execution(pipeline_name="p").execution_id
    client.start(execution_id)
    with current_execution(
        {"TRACKING_EXECUTION_ID": execution_id, "TRACKING_ADDRESS": server.address}
    ) as job:
        job.result({"epochs": 4, "accuracy": 0.93, "largest": 2**53})
        job.output("batches", 120)
    execution = client.get_execution(execution_id)
    result = from_struct(execution.result)
    assert (result, type(result["epochs"]), type(result["largest"])) == (
        {"epochs": 4, "accuracy": 0.93, "largest": 2**53},
        int,
        int,
    )
    assert repr(from_value(execution.outputs[0].value)) == "120"
    as_json = tracking(server.address, "executions", "get", execution_id, "-o", "json").stdout
    assert '"epochs": 4,' in as_json
    assert '"value": 120' in as_json
    assert '"progress": 0.0' in as_json  # the message's own floats stay floats
    detail = tracking(server.address, "executions", "get", execution_id).stdout.splitlines()
    [shown] = [line.removeprefix("result: ") for line in detail if line.startswith("result: ")]
    assert "4.0" not in shown
    assert json.loads(shown) == {"accuracy": 0.93, "epochs": 4, "largest": 2**53}


def test_current_execution_outside_a_job_is_a_clear_error() -> None:
    with pytest.raises(NoCurrentExecution, match="TRACKING_EXECUTION_ID is not set"):
        current_execution({})
