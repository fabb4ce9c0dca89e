"""`tracking run -- COMMAND`: a command's output and end, as the server records them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ServerFactory
from tests.support.cli import one_error_line, start_tracking, tracking
from tests.support.factories import unique
from tests.support.server import ServerThread
from tracking.client import TrackingClient
from tracking.v1 import execution_pb2, status_pb2

STDOUT, STDERR = execution_pb2.LOG_STREAM_STDOUT, execution_pb2.LOG_STREAM_STDERR


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Iterator[TrackingClient]:
    with TrackingClient(server.address) as client:
        yield client


@pytest.fixture
def deployment(client: TrackingClient) -> str:
    name = unique("run")
    client.create_deployment(name, "scripts", "ENDPOINT")
    return name


def run_python(
    address: str, deployment: str, code: str, *flags: str
) -> tuple[str, subprocess.CompletedProcess[str]]:
    execution_id = unique("run")
    result = tracking(
        address,
        "run",
        "-d",
        deployment,
        "--id",
        execution_id,
        *flags,
        "--",
        sys.executable,
        "-c",
        code,
    )
    return execution_id, result


def stored(client: TrackingClient, execution_id: str) -> list[tuple[int, str]]:
    return [(e.stream, e.message) for e in client.get_execution_logs(execution_id)]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie no one has reaped yet is gone too.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] == "Z"


def test_success_stores_both_streams_in_order(
    server: ServerThread, client: TrackingClient, deployment: str
) -> None:
    code = (
        "import sys\n"
        "print('loading', flush=True)\n"
        "print('warning: slow disk', file=sys.stderr, flush=True)\n"
        "for i in range(1200): print(f'line {i}')\n"
    )
    execution_id, result = run_python(server.address, deployment, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["loading", "line 0"]
    assert f"tracking: execution {execution_id}" in result.stderr
    assert "warning: slow disk" in result.stderr
    # Each stream keeps its order; how the two interleave depends on when each pipe is read.
    lines = stored(client, execution_id)
    assert [m for s, m in lines if s == STDOUT] == ["loading"] + [f"line {i}" for i in range(1200)]
    assert [m for s, m in lines if s == STDERR] == ["warning: slow disk"]
    status = client.get_job_status(execution_id)
    # A success has no stop message: the runner's "exit code 0" is the last phase.
    assert (status.status, status.stop_message, status.phase) == (
        status_pb2.RUNNING_STATUS_SUCCESS,
        "",
        "exit code 0",
    )
    assert client.get_execution(execution_id).deployment_name == deployment


def test_failure_is_error_with_the_exit_code(
    server: ServerThread, client: TrackingClient, deployment: str
) -> None:
    execution_id, result = run_python(
        server.address, deployment, "import sys; print('bad input'); sys.exit(3)", "-q"
    )
    assert (result.returncode, result.stdout) == (3, "")
    status = client.get_job_status(execution_id)
    assert (status.status, status.stop_message) == (status_pb2.RUNNING_STATUS_ERROR, "exit code 3")
    assert stored(client, execution_id) == [(STDOUT, "bad input")]


def test_a_command_that_does_not_exist_ends_as_error(
    server: ServerThread, client: TrackingClient, deployment: str
) -> None:
    execution_id = unique("run")
    result = tracking(
        server.address, "run", "-d", deployment, "--id", execution_id, "--", "no-such-command-here"
    )
    assert result.returncode == 127
    assert "tracking: cannot run 'no-such-command-here': No such file or directory" in result.stderr
    status = client.get_job_status(execution_id)
    assert status.status == status_pb2.RUNNING_STATUS_ERROR
    assert status.stop_message == "cannot run 'no-such-command-here': No such file or directory"


def test_output_the_server_could_not_take_as_is_is_cut_and_cleaned(
    server: ServerThread, client: TrackingClient, deployment: str
) -> None:
    # The server takes lines of up to 65,536 characters (GetServiceInfo says so).
    code = (
        "import sys; sys.stdout.buffer.write("
        "b'a' * 150000 + b'\\n' + b'b' * 65536 + b'\\nx\\x00y\\n\\xff\\xfe ok\\nno newline')"
    )
    execution_id, result = run_python(server.address, deployment, code, "-q")
    assert result.returncode == 0, result.stderr
    assert [message for _, message in stored(client, execution_id)] == [
        "a" * 65534 + " \u21a9", "a" * 65534 + " \u21a9", "a" * 18932,
        "b" * 65536, "x\ufffdy", "\ufffd\ufffd ok", "no newline",
    ]  # fmt: skip


def test_long_lines_are_cut_at_the_servers_own_limit(make_server: ServerFactory) -> None:
    server = make_server(max_log_line=10)
    name = unique("run")
    with TrackingClient(server.address) as client:
        client.create_deployment(name, "scripts", "ENDPOINT")
        code = "print('0123456789'); print('abcdefghijklmnopqrstuvwxyz')"
        execution_id, result = run_python(server.address, name, code, "-q")
        assert result.returncode == 0, result.stderr
        assert [message for _, message in stored(client, execution_id)] == [
            "0123456789",
            "abcdefgh \u21a9",
            "ijklmnop \u21a9",
            "qrstuvwxyz",
        ]


def test_standalone_run_needs_only_a_pipeline(server: ServerThread, client: TrackingClient) -> None:
    execution_id = unique("run")
    result = tracking(
        server.address,
        "run",
        "--pipeline",
        "adhoc",
        "--id",
        execution_id,
        "-l",
        "who=ci",
        "--",
        "true",
    )
    assert result.returncode == 0, result.stderr
    execution = client.get_execution(execution_id)
    assert (execution.pipeline_name, dict(execution.labels)) == ("adhoc", {"who": "ci"})
    assert execution.job_status.status == status_pb2.RUNNING_STATUS_SUCCESS


def test_the_job_is_named_as_typed_and_its_command_kept_exactly(
    server: ServerThread, client: TrackingClient, deployment: str
) -> None:
    code = "import time; [print(f'step {i}') for i in range(2)]"
    execution_id, result = run_python(server.address, deployment, code)
    assert result.returncode == 0, result.stderr
    execution = client.get_execution(execution_id)
    assert execution.job_name == f'{sys.executable} -c "{code}"'[:59] + "…"
    assert list(execution.command) == [sys.executable, "-c", code]
    table = tracking(server.address, "executions", "list", "-d", deployment).stdout
    assert f"{execution_id}   {execution.job_name}   {deployment}" in table
    detail = tracking(server.address, "executions", "get", execution_id).stdout.splitlines()
    assert f'command: {sys.executable} -c "{code}"' in detail  # as typed, and exact


SLEEPER = (
    "import os, signal, subprocess, sys, time\n"
    "if sys.argv[1] == 'ignore': signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "helper = subprocess.Popen(['sleep', '600'])\n"
    "print(os.getpid(), helper.pid, flush=True)\n"
    "time.sleep(600)\n"
)


@pytest.mark.parametrize(("on_sigterm", "ended_by"), [("die", "SIGTERM"), ("ignore", "SIGKILL")])
def test_cancel_stops_the_command_and_everything_it_started(
    server: ServerThread, client: TrackingClient, deployment: str, on_sigterm: str, ended_by: str
) -> None:
    execution_id = unique("run")
    runner = start_tracking(
        server.address,
        "run", "-d", deployment, "--id", execution_id, "--grace-period", "1",
        "--", sys.executable, "-c", SLEEPER, on_sigterm,
    )  # fmt: skip
    assert runner.stdout is not None
    child_pid, helper_pid = map(int, runner.stdout.readline().split())
    assert client.get_job_status(execution_id).status == status_pb2.RUNNING_STATUS_RUNNING

    client.cancel_execution(execution_id, reason="no longer needed")
    _, err = runner.communicate(timeout=60)

    signum = signal.Signals[ended_by]
    assert runner.returncode == 128 + signum, err
    assert "tracking: stopping the command: canceled: no longer needed" in err
    status = client.get_job_status(execution_id)
    assert status.status == status_pb2.RUNNING_STATUS_CANCELED
    assert status.stop_message == f"canceled: no longer needed; killed by {ended_by}"
    assert gone(child_pid)
    assert gone(helper_pid)
    assert stored(client, execution_id) == [(STDOUT, f"{child_pid} {helper_pid}")]


def test_sigterm_to_the_runner_cancels(
    server: ServerThread, client: TrackingClient, deployment: str
) -> None:
    execution_id = unique("run")
    runner = start_tracking(
        server.address, "run", "-d", deployment, "--id", execution_id,
        "--", sys.executable, "-c", SLEEPER, "die",
    )  # fmt: skip
    assert runner.stdout is not None
    child_pid, helper_pid = map(int, runner.stdout.readline().split())
    runner.send_signal(signal.SIGTERM)
    runner.communicate(timeout=60)
    assert runner.returncode == 128 + signal.SIGTERM
    status = client.get_job_status(execution_id)
    assert status.status == status_pb2.RUNNING_STATUS_CANCELED
    assert status.stop_message == "tracking run received SIGTERM; killed by SIGTERM"
    assert gone(child_pid)
    assert gone(helper_pid)


def test_unknown_deployment_is_one_line(server: ServerThread) -> None:
    result = tracking(server.address, "run", "-d", "no-such-deployment", "--", "true")
    assert result.returncode == 1
    assert one_error_line(result).startswith("error: NOT_FOUND: ")


def test_output_still_reaches_the_server_when_our_reader_goes_away(
    server: ServerThread, client: TrackingClient, deployment: str
) -> None:
    # As with `tracking run ... | head -1`.
    execution_id = unique("run")
    runner = start_tracking(
        server.address,
        "run", "-d", deployment, "--id", execution_id,
        "--", sys.executable, "-c", "for i in range(3000): print(f'line {i}', flush=True)",
    )  # fmt: skip
    assert runner.stdout is not None
    assert runner.stdout.readline() == "line 0\n"
    runner.stdout.close()
    assert runner.wait(timeout=60) == 0
    assert [m for _, m in stored(client, execution_id)] == [f"line {i}" for i in range(3000)]
    assert client.get_job_status(execution_id).status == status_pb2.RUNNING_STATUS_SUCCESS
