"""`tracking logs --grep/--contains/--deployment` and `tracking watch --deployment`: what a
person sees, and followers that ride out a server restart."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.chaos import free_address
from tests.support.cli import cli_env, one_error_line, start_tracking, tracking
from tests.support.factories import unique
from tests.support.process import TRACKING, ServerProcess
from tests.support.server import ServerThread
from tests.support.terminal import Screen
from tracking.client import TrackingClient


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Iterator[TrackingClient]:
    with TrackingClient(server.address) as client:
        yield client


Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """start_tracking, and a kill at the end for whatever is still running: a follower
    keeps reconnecting to a server that is gone, so a failed test must not leave it."""
    started: list[subprocess.Popen[str]] = []

    def run(address: str, *args: str) -> subprocess.Popen[str]:
        process = start_tracking(address, *args)
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def new_deployment(client: TrackingClient) -> str:
    name = unique("cli")
    client.create_deployment(name, "train", "ENDPOINT")
    return name


def test_grep_and_contains_filter_on_the_server(
    server: ServerThread, client: TrackingClient
) -> None:
    execution_id = client.create_execution(deployment_name=new_deployment(client)).execution_id
    client.append_logs(execution_id, ["epoch 1 loss=0.9", "WARNING disk", "epoch 2 loss=0.4"])
    grepped = tracking(server.address, "logs", execution_id, "--grep", r"loss=0\.[0-4]")
    assert grepped.stdout.splitlines() == ["epoch 2 loss=0.4"]
    contained = tracking(server.address, "logs", execution_id, "--contains", "epoch")
    assert contained.stdout.splitlines() == ["epoch 1 loss=0.9", "epoch 2 loss=0.4"]
    bad = tracking(server.address, "logs", execution_id, "--grep", "(unclosed")
    assert bad.returncode == 1
    assert "pattern" in one_error_line(bad)


def test_logs_of_a_deployment_are_prefixed_with_their_execution(
    server: ServerThread, client: TrackingClient
) -> None:
    deployment = new_deployment(client)
    short = client.create_execution(deployment_name=deployment, execution_id=unique("a"))
    longer = client.create_execution(deployment_name=deployment, execution_id=unique("longer-b"))
    client.append_logs(short.execution_id, ["from a"])
    client.append_logs(longer.execution_id, ["from b", "again b"])
    printed = tracking(server.address, "logs", "--deployment", deployment).stdout.splitlines()
    width = len(longer.execution_id) + 2
    assert sorted(printed) == sorted(
        [
            f"[{short.execution_id}] from a",
            f"{f'[{longer.execution_id}]':<{width}} from b",
            f"{f'[{longer.execution_id}]':<{width}} again b",
        ]
    )
    grepped = tracking(server.address, "logs", "-d", deployment, "--grep", "^again")
    assert grepped.stdout.splitlines() == [f"[{longer.execution_id}] again b"]


def test_logs_name_one_execution_or_a_deployment(server: ServerThread) -> None:
    for args in ([], ["some-execution", "--deployment", "some-deployment"]):
        result = tracking(server.address, "logs", *args)
        assert result.returncode == 2
        assert "--deployment" in one_error_line(result)
    only_new = tracking(server.address, "logs", "-d", "some-deployment", "-f", "--tail", "0")
    assert only_new.returncode == 2
    assert "--since 0s" in one_error_line(only_new)


def test_following_a_deployment_takes_up_new_executions_until_it_is_deleted(
    server: ServerThread, client: TrackingClient, spawn: Spawn
) -> None:
    deployment = new_deployment(client)
    follower = spawn(server.address, "logs", "-f", "-d", deployment)
    assert follower.stdout is not None
    execution_id = client.create_execution(deployment_name=deployment).execution_id
    client.start(execution_id)
    client.append_logs(execution_id, ["hello"])
    assert follower.stdout.readline() == f"[{execution_id}] hello\n"
    client.delete_deployment(deployment)
    rest = follower.stdout.read()
    assert (follower.wait(timeout=60), rest) == (0, "")


def test_watch_a_deployment_one_line_per_change(
    server: ServerThread, client: TrackingClient, spawn: Spawn
) -> None:
    deployment = new_deployment(client)
    first = client.create_execution(deployment_name=deployment).execution_id
    watcher = spawn(server.address, "watch", "--deployment", deployment)
    assert watcher.stdout is not None
    assert watcher.stdout.readline() == f"[{first}] WAITING 0%\n"
    client.start(first)
    client.update_progress(first, 0.5, phase="epoch 2")
    second = client.create_execution(deployment_name=deployment).execution_id
    client.stop(first, "SUCCESS")
    lines = [watcher.stdout.readline().rstrip("\n") for _ in range(4)]
    watcher.terminate()
    watcher.wait(timeout=60)
    pad = max(len(first), len(second)) + 2
    assert [re.sub(r"\s+", " ", line) for line in lines] == [
        f"[{first}] RUNNING 0%",
        f"[{first}] RUNNING 50% epoch 2",
        f"[{second}] WAITING 0%",
        f"[{first}] SUCCESS 100% epoch 2",
    ]
    assert all(line.index("]") < pad for line in lines)


def test_a_follower_gives_up_at_its_timeout_with_exit_code_124(
    server: ServerThread, client: TrackingClient
) -> None:
    deployment = new_deployment(client)
    execution_id = client.create_execution(deployment_name=deployment).execution_id
    client.start(execution_id)
    for args in (
        ["logs", "-f", execution_id, "--timeout", "0.5"],
        ["logs", "-f", "-d", deployment, "--timeout", "0.5"],
        ["watch", execution_id, "--timeout", "0.5"],
        ["watch", "-d", deployment, "--timeout", "0.5"],
    ):
        result = tracking(server.address, *args)
        assert result.returncode == 124, (args, result.stderr)
        assert "--timeout" in one_error_line(result)


@pytest.mark.parametrize("stop", ["kill", "drain"])
def test_followers_ride_out_a_server_restart(fresh_database: str, stop: str, spawn: Spawn) -> None:
    first = ServerProcess(fresh_database).start()
    try:
        with TrackingClient(first.address) as client:
            deployment = new_deployment(client)
            execution_id = client.create_execution(deployment_name=deployment).execution_id
            client.start(execution_id)
            client.append_logs(execution_id, ["a1", "a2", "a3"])
        one = spawn(first.address, "logs", "-f", execution_id)
        many = spawn(first.address, "logs", "-f", "-d", deployment)
        watcher = spawn(first.address, "watch", execution_id)
        assert one.stdout is not None
        assert many.stdout is not None
        assert watcher.stdout is not None
        assert [one.stdout.readline() for _ in range(3)] == ["a1\n", "a2\n", "a3\n"]
        assert [many.stdout.readline() for _ in range(3)] == [
            f"[{execution_id}] a{i}\n" for i in (1, 2, 3)
        ]
        assert watcher.stdout.readline() == "RUNNING 0%\n"
        if stop == "drain":
            assert first.terminate() == 0  # SIGTERM: open streams end with UNAVAILABLE
        else:
            first.kill()
    finally:
        first.kill()
    second = ServerProcess(fresh_database, address=first.address).start()
    try:
        with TrackingClient(second.address) as client:
            client.append_logs(execution_id, ["b1", "b2"])
            client.update_progress(execution_id, 0.5)
            # Each has reconnected (and seen what it missed) before the job ends.
            assert [one.stdout.readline() for _ in range(2)] == ["b1\n", "b2\n"]
            assert [many.stdout.readline() for _ in range(2)] == [
                f"[{execution_id}] b1\n",
                f"[{execution_id}] b2\n",
            ]
            assert watcher.stdout.readline() == "RUNNING 50%\n"
            client.stop(execution_id, "SUCCESS")
            client.delete_deployment(deployment)
        # Nothing missing, nothing twice; each ends by itself.
        assert (one.stdout.read(), one.wait(timeout=60)) == ("", 0)
        assert (many.stdout.read(), many.wait(timeout=60)) == ("", 0)
        assert (watcher.stdout.read(), watcher.wait(timeout=60)) == ("SUCCESS 100%\n", 0)
    finally:
        second.kill()
    for follower in (one, many, watcher):
        assert follower.stderr is not None
        said = follower.stderr.read()
        # Once per outage, however many attempts it took.
        assert said.count(f"tracking: lost the server at {first.address}") == 1, said
        assert "reconnecting" in said, said


def on_a_terminal(address: str, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    """`tracking ARGS...` with stdout and stderr on a pseudo-terminal, as a person runs it;
    the terminal's main side to read."""
    main, terminal = os.openpty()
    process = subprocess.Popen(
        [str(TRACKING), *args], stdout=terminal, stderr=terminal, env=cli_env(address)
    )
    os.close(terminal)
    return process, main


def drawn_until(screen: Screen, text: str) -> str:
    """What the terminal shows once `text` is there (60 s at most, so a hang fails)."""
    deadline = time.monotonic() + 60
    while text not in (drawn := screen.read().decode()):
        assert time.monotonic() < deadline, f"{text!r} never came: {drawn!r}"
    return drawn


@pytest.mark.parametrize(
    "command",
    [
        ["logs", "-f", "exec-anything"],
        ["watch", "exec-anything"],
        ["metrics", "exec-anything", "loss", "-f"],
    ],
    ids=["logs-f", "watch", "metrics-f"],
)
def test_a_follower_without_a_server_says_it_waits_then_fails_like_other_commands(
    command: list[str],
) -> None:
    address = free_address()  # nobody listens there
    process, main = on_a_terminal(address, *command, "--connect-timeout", "2")
    try:
        assert process.wait(60) == 1
        drawn = Screen(main).read_to_end().decode()
    finally:
        os.close(main)
    assert drawn.splitlines() == [
        f"tracking: waiting for the server at {address} (up to 2 s)",
        f"error: cannot reach the server at {address} within --connect-timeout 2 s",
    ]


def test_a_follower_started_before_its_server_follows_once_it_is_up(fresh_database: str) -> None:
    first = ServerProcess(fresh_database).start()
    with TrackingClient(first.address) as client:
        execution_id = client.create_execution(pipeline_name="train").execution_id
        client.start(execution_id)
        client.append_logs(execution_id, ["before"])
    first.kill()
    process, main = on_a_terminal(
        first.address, "logs", "-f", execution_id, "--connect-timeout", "0"
    )
    screen = Screen(main)
    try:
        assert drawn_until(screen, "\n").splitlines() == [
            f"tracking: waiting for the server at {first.address} (for as long as it takes)"
        ]
        second = ServerProcess(fresh_database, address=first.address).start()
        try:
            drawn_until(screen, "before\r\n")
            with TrackingClient(second.address) as client:
                client.append_logs(execution_id, ["after"])
                drawn_until(screen, "after\r\n")
                client.stop(execution_id, "SUCCESS")
            assert process.wait(60) == 0
        finally:
            second.kill()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        os.close(main)
