"""The README's client example runs as printed against a live server."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.support.cli import start_tracking, tracking
from tests.support.readme import metrics_example
from tests.support.server import ServerThread
from tracking.client import TrackingClient

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_example_runs(server: ServerThread, backend: str) -> None:
    example = re.search(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert example is not None, "README has no python example"
    code = example.group(1).replace("127.0.0.1:50051", server.address)
    # A name of its own so the example can run against a shared database.
    code = code.replace("nightly-train", f"readme-{backend}")
    for _ in range(2):  # as often as one likes
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            "RUNNING_STATUS_SUCCESS",
            "['loss=0.31', 'loss=0.27']",
        ]


def test_readme_lists_every_setting() -> None:
    from tracking.service.settings import Settings

    text = README.read_text()
    missing = [name for name in Settings.model_fields if f"`TRACKING_{name.upper()}`" not in text]
    assert missing == []


def test_readme_terminal_example_runs(server: ServerThread, backend: str) -> None:
    section = README.read_text().split("## Use it from a terminal", 1)[1]
    commands = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert commands is not None, "README has no terminal example"
    create, run = (shlex.split(line) for line in commands.group(1).splitlines())
    deployment = f"readme-scripts-{backend}"
    create[create.index("nightly-scripts")] = deployment
    run[run.index("nightly-scripts")] = deployment
    run[run.index("python")] = sys.executable
    for _ in range(2):  # a second time, the deployment is already there
        assert tracking(server.address, *create[1:]).returncode == 0

    runner = start_tracking(server.address, *run[1:])
    assert runner.stderr is not None
    first = runner.stderr.readline()
    assert first.startswith("tracking: execution ")
    execution_id = first.split()[-1]
    follower = start_tracking(server.address, "logs", "-f", execution_id)
    watcher = start_tracking(server.address, "watch", execution_id)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode == 0
    steps = [f"step {i}" for i in range(5)]
    assert out.splitlines() == steps
    assert follower.communicate(timeout=60)[0].splitlines() == steps
    watched, _ = watcher.communicate(timeout=60)
    assert watcher.returncode == 0
    assert watched.splitlines()[-1] == "SUCCESS 100% exit code 0"


def test_readme_reporting_example_runs(server: ServerThread, backend: str, tmp_path: Path) -> None:
    section = README.read_text().split("### A job that reports on itself", 1)[1]
    script, commands, printed = re.findall(r"```(?:python|sh|text)\n(.*?)```", section, re.DOTALL)[
        :3
    ]
    (tmp_path / "train.py").write_text(script)
    run = shlex.split(commands.splitlines()[0])
    deployment = f"readme-report-{backend}"
    assert (
        tracking(server.address, "deployments", "create", deployment, "--pipeline", "p").returncode
        == 0
    )
    run[run.index("nightly-scripts")] = deployment
    # train.py as printed, once the watch is open (the job would not wait for it otherwise).
    go_on = tmp_path / "go-on"
    run[run.index("python") :] = [
        sys.executable,
        "-c",
        "import pathlib, runpy, time\n"
        f"while not pathlib.Path({str(go_on)!r}).exists(): time.sleep(0.05)\n"
        "runpy.run_path('train.py', run_name='__main__')",
    ]
    runner = start_tracking(server.address, *run[1:], cwd=tmp_path)
    assert runner.stderr is not None
    execution_id = runner.stderr.readline().split()[-1]
    watcher = start_tracking(server.address, "watch", execution_id)
    assert watcher.stdout is not None
    first = watcher.stdout.readline()  # the job's state when the watch opened
    go_on.touch()
    runner.communicate(timeout=60)
    assert runner.returncode == 0
    rest, _ = watcher.communicate(timeout=60)
    assert watcher.returncode == 0
    # The watch starts at the job's state when it connects, then sees every change.
    expected = printed.splitlines()
    lines = [first.rstrip("\n"), *rest.splitlines()]
    assert lines == expected[len(expected) - len(lines) :], lines
    assert lines[-6:] == expected[-6:]  # every epoch, then the end


def test_readme_metrics_example_runs(server: ServerThread, tmp_path: Path) -> None:
    example = metrics_example()
    (tmp_path / "loss.py").write_text(example.script)
    run, follow, table = example.run, example.follow, example.table
    run[run.index("python")] = sys.executable
    runner = start_tracking(server.address, *run[1:], cwd=tmp_path)
    assert runner.stderr is not None
    execution_id = runner.stderr.readline().split()[-1]
    follow[follow.index("<id>")] = execution_id
    follower = start_tracking(server.address, *follow[1:])
    runner.communicate(timeout=60)
    assert runner.returncode == 0
    followed, _ = follower.communicate(timeout=60)
    assert follower.returncode == 0
    lines = followed.splitlines()
    assert [int(line.split()[0]) for line in lines] == list(range(301))
    assert lines[-1] == "300 3"
    table[table.index("<id>")] = execution_id
    shown = tracking(server.address, *table[1:])
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == example.printed


def test_readme_curl_lines_run(server: ServerThread) -> None:
    section = README.read_text().split("## Use it over HTTP", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "README has no HTTP example"
    script = block.group(1).replace("http://127.0.0.1:8080", server.http_url)
    shell = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert shell.stdout is not None
    execution_id = shell.stdout.readline().strip()
    assert execution_id.startswith("exec-"), shell.stderr.read() if shell.stderr else ""
    started = json.loads(shell.stdout.readline())
    assert started["jobStatus"]["status"] == "RUNNING_STATUS_RUNNING"
    assert json.loads(shell.stdout.readline()) == {"lastSeq": "2"}
    assert json.loads(shell.stdout.readline())["jobStatus"]["revision"] == "2"
    followed = [shell.stdout.readline().strip() for _ in range(4)]
    assert followed[0] == "retry: 1000"
    assert followed[2] == "id: 2"
    assert [e["message"] for e in json.loads(followed[3].removeprefix("data: "))["entries"]] == [
        "hello",
        "world",
    ]
    # The follow ends with the execution.
    with TrackingClient(server.address) as client:
        client.stop(execution_id)
    rest, _ = shell.communicate(timeout=60)
    assert shell.returncode == 0
    assert "event: end" in rest
