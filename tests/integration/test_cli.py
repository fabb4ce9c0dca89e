"""`tracking deployments|executions|watch|logs`: what a person or a script sees."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from collections.abc import Iterator
from importlib.metadata import version

import pytest

from tests.conftest import ServerFactory
from tests.support.cli import cli_env, one_error_line, start_tracking, tracking
from tests.support.factories import new_token, unique
from tests.support.process import TRACKING
from tests.support.server import ServerThread
from tests.support.terminal import Screen
from tests.support.waiting import wait_for
from tracking.client import TrackingClient
from tracking.v1 import execution_pb2


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Iterator[TrackingClient]:
    with TrackingClient(server.address) as client:
        yield client


def new_execution(client: TrackingClient) -> str:
    name = unique("cli")
    client.create_deployment(name, "train", "ENDPOINT")
    return client.create_execution(deployment_name=name).execution_id


def test_deployment_lifecycle(server: ServerThread) -> None:
    name = unique("cli")
    created = tracking(
        server.address,
        "deployments", "create", name, "--pipeline", "train", "--rule", "periodic",
        "--schedule", "0 3 * * *", "--label", "team=ml", "--description", "nightly",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert f"name: {name}" in created.stdout.splitlines()
    assert "execution_rule: PERIODIC" in created.stdout

    listed = tracking(server.address, "deployments", "list", "--filter", 'pipeline_name = "train"')
    header, *rows = listed.stdout.splitlines()
    assert header.split() == [
        "NAME", "PIPELINE", "RULE", "SCHEDULE", "ENABLED", "STATUS", "LAST", "EXECUTION", "CREATED"
    ]  # fmt: skip
    row = next(r for r in rows if r.startswith(name + " "))
    assert row.split()[1:5] == ["train", "PERIODIC", "0", "3"]

    updated = tracking(
        server.address,
        "deployments",
        "update",
        name,
        "--disable",
        "--description",
        "off",
        "-o",
        "json",
    )
    assert updated.returncode == 0, updated.stderr
    shown = json.loads(tracking(server.address, "deployments", "get", name, "-o", "json").stdout)
    assert (shown["is_enabled"], shown["description"], shown["labels"]) == (
        False, "off", {"team": "ml"}
    )  # fmt: skip
    assert shown["schedule"] == "0 3 * * *"

    deleted = tracking(server.address, "deployments", "delete", name)
    assert (deleted.returncode, deleted.stdout.strip()) == (0, f"deleted deployment {name}")
    gone = tracking(server.address, "deployments", "get", name)
    assert gone.returncode == 1
    assert one_error_line(gone) == f"error: NOT_FOUND: deployment '{name}' not found"


def test_execution_lifecycle(server: ServerThread, client: TrackingClient) -> None:
    name = unique("cli")
    client.create_deployment(name, "train", "ENDPOINT")
    created = tracking(
        server.address,
        "executions", "create", "-d", name, "--label", "run=1",
        "--input", "epochs=3", "--input", "note=hello", "-o", "json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    execution = json.loads(created.stdout)
    execution_id = execution["execution_id"]
    assert execution["labels"] == {"run": "1"}
    assert {i["name"]: i["value"] for i in execution["inputs"]} == {"epochs": 3, "note": "hello"}

    listed = json.loads(
        tracking(
            server.address, "executions", "list", "-d", name, "-s", "waiting", "-o", "json"
        ).stdout
    )
    assert [e["execution_id"] for e in listed] == [execution_id]
    assert (
        tracking(
            server.address, "executions", "list", "-d", name, "-s", "running"
        ).stdout.splitlines()[1:]
        == []
    )
    table = tracking(server.address, "executions", "list", "-d", name).stdout.splitlines()
    assert table[0].split() == [
        "ID", "JOB", "DEPLOYMENT", "PIPELINE", "STATUS", "PROGRESS", "PHASE", "AGE", "DURATION"
    ]  # fmt: skip
    created_ago, ran_for = table[1].split()[-2:]
    assert re.fullmatch(r"\d+s", created_ago)  # seconds ago
    assert ran_for == "-"  # never started

    cancel = tracking(
        server.address, "executions", "cancel", execution_id, "--reason", "not needed"
    )
    assert cancel.stdout.strip() == f"{execution_id}: CANCELED"
    detail = tracking(server.address, "executions", "get", execution_id).stdout.splitlines()
    assert "job_status.status: CANCELED" in detail
    assert "job_status.cancel_reason: not needed" in detail

    assert tracking(server.address, "executions", "delete", execution_id).returncode == 0
    assert tracking(server.address, "executions", "get", execution_id).returncode == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["deployments", "list", "--bogus"], "error: No such option: --bogus"),
        (["--bogus"], "error: No such option: --bogus (see tracking --help)"),
        (
            ["--address", "127.0.0.1:1", "executions", "list"],
            "error: No such option: --address; options go after the command:"
            " tracking COMMAND --address ...",
        ),
        (
            ["executions", "-o", "json", "list"],
            "error: No such option: -o; options go after the command:"
            " tracking executions COMMAND -o ...",
        ),
        (["executions", "get"], "error: Missing argument 'EXECUTION_ID'."),
        (["nope"], "error: No such command 'nope'."),
        (
            ["deployments", "create", "x", "--pipeline", "p", "--rule", "daily"],
            "error: --rule: 'daily' is not a ExecutionRule value",
        ),
        (
            ["executions", "create", "--label", "novalue"],
            "error: --label takes key=value, not 'novalue'",
        ),
        (
            ["executions", "list", "--status", "done"],
            "error: --status: 'done' is not a RunningStatus value",
        ),
        (["logs", "x", "--since", "yesterday"], "error: --since takes a duration"),
        (["deployments", "update", "x"], "error: nothing to change"),
        (["run", "--", "true"], "error: give --deployment NAME, or --pipeline NAME"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    server: ServerThread, args: list[str], expected: str
) -> None:
    result = tracking(server.address, *args)
    assert result.returncode == 2
    assert one_error_line(result).startswith(expected)


def test_server_side_refusals_are_one_line_and_exit_1(server: ServerThread) -> None:
    missing = tracking(server.address, "executions", "get", "no-such-execution")
    assert missing.returncode == 1
    assert one_error_line(missing) == "error: NOT_FOUND: execution 'no-such-execution' not found"
    invalid = tracking(server.address, "deployments", "create", "Bad Name!", "--pipeline", "p")
    assert invalid.returncode == 1
    assert one_error_line(invalid).startswith("error: INVALID_ARGUMENT: ")
    assert "name" in invalid.stderr


def test_unreachable_server_is_one_line(server: ServerThread) -> None:
    # The flag wins over TRACKING_ADDRESS.
    result = tracking(server.address, "deployments", "list", "--address", "127.0.0.1:1")
    assert result.returncode == 1
    assert one_error_line(result).startswith("error: cannot reach the server at 127.0.0.1:1")


def test_permission_denied_is_one_line(make_server: ServerFactory) -> None:
    secured = make_server(auth="on", token_cache_seconds=0)
    _, reader = new_token(secured, "READER")
    listed = tracking(
        secured.address, "executions", "list", env=cli_env(secured.address, TRACKING_TOKEN=reader)
    )
    assert listed.returncode == 0, listed.stderr
    refused = tracking(
        secured.address, "deployments", "create", "x", "--pipeline", "p",
        env=cli_env(secured.address, TRACKING_TOKEN=reader),
    )  # fmt: skip
    assert refused.returncode == 1
    assert one_error_line(refused).startswith("error: PERMISSION_DENIED: ")
    anonymous = tracking(secured.address, "executions", "list")
    assert one_error_line(anonymous).startswith("error: UNAUTHENTICATED: ")


@pytest.mark.parametrize(
    ("cause", "last_line", "exit_code"),
    [
        ("SUCCESS", "SUCCESS 100% done here", 0),
        ("ERROR", "ERROR 50% epoch 2: done here", 3),
        ("CANCELED", "CANCELED 50% epoch 2: done here", 4),
    ],
)
def test_watch_follows_to_the_end_and_exits_by_the_final_status(
    server: ServerThread, client: TrackingClient, cause: str, last_line: str, exit_code: int
) -> None:
    execution_id = new_execution(client)
    watcher = start_tracking(server.address, "watch", execution_id)
    assert watcher.stdout is not None
    assert watcher.stdout.readline().strip() == "WAITING 0%"
    client.start(execution_id)
    client.update_progress(execution_id, 0.5, phase="epoch 2")
    client.stop(execution_id, cause, "done here")
    out = watcher.stdout.read()
    assert watcher.wait(timeout=60) == exit_code
    assert out.splitlines() == [
        "RUNNING 0%",
        "RUNNING 50% epoch 2",
        last_line,
    ]


def test_watch_json_is_one_event_per_line(server: ServerThread, client: TrackingClient) -> None:
    execution_id = new_execution(client)
    client.start(execution_id)
    client.stop(execution_id, "SUCCESS")
    result = tracking(server.address, "watch", execution_id, "-o", "json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0
    assert [e["job_status"]["status"] for e in events] == ["RUNNING_STATUS_SUCCESS"]
    assert events[0]["snapshot"] is True


def test_logs_print_filter_and_follow(server: ServerThread, client: TrackingClient) -> None:
    execution_id = new_execution(client)
    client.start(execution_id)
    client.append_logs(
        execution_id,
        [
            "one",
            execution_pb2.LogEntry(message="two", stream=execution_pb2.LOG_STREAM_STDERR),
            "three",
        ],
    )
    # A stderr line starts with "E ", and no colour codes reach a pipe.
    assert tracking(server.address, "logs", execution_id).stdout.splitlines() == [
        "one",
        "E two",
        "three",
    ]
    assert tracking(server.address, "logs", execution_id, "--tail", "2").stdout.splitlines() == [
        "E two",
        "three",
    ]
    assert tracking(server.address, "logs", execution_id, "--tail", "0").stdout == ""  # none
    assert tracking(
        server.address, "logs", execution_id, "--stream", "stderr"
    ).stdout.splitlines() == ["E two"]
    assert tracking(server.address, "logs", execution_id, "--since", "1h").stdout.splitlines() == [
        "one",
        "E two",
        "three",
    ]
    stamped = tracking(server.address, "logs", execution_id, "-t").stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["one", "E two", "three"]
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line.split(" ")[0])
        for line in stamped
    )
    as_json = [
        json.loads(line)
        for line in tracking(server.address, "logs", execution_id, "-o", "json").stdout.splitlines()
    ]
    assert [(e["seq"], e["stream"]) for e in as_json] == [
        ("1", "LOG_STREAM_STDOUT"), ("2", "LOG_STREAM_STDERR"), ("3", "LOG_STREAM_STDOUT")
    ]  # fmt: skip

    assert server.app is not None
    hub = server.app.hub
    watching = hub.watcher_count
    registry = server.app.metrics.registry
    labels = {"method": "StreamLogs", "code": "OK"}

    def streams_ended() -> float:
        return registry.get_sample_value("tracking_rpc_total", labels) or 0.0

    ended_before = streams_ended()
    follower = start_tracking(server.address, "logs", execution_id, "-f", "--tail", "1")
    only_new = start_tracking(server.address, "logs", execution_id, "-f", "--tail", "0")
    assert follower.stdout is not None
    assert only_new.stdout is not None
    assert follower.stdout.readline() == "three\n"
    # `--tail 0` first reads the last seq with a stream of its own, which counts as a
    # watcher while it lasts: both follow once that one has ended and two watch.
    wait_for(
        lambda: streams_ended() == ended_before + 1 and hub.watcher_count == watching + 2,
        "both followers to follow",
    )
    client.append_logs(execution_id, ["four", "five"])
    assert follower.stdout.readline() == "four\n"
    client.stop(execution_id, "SUCCESS")
    # Read on from the same buffered pipe: communicate() would skip what readline buffered.
    rest = follower.stdout.read()
    assert (follower.wait(timeout=60), rest) == (0, "five\n")
    assert (only_new.stdout.read(), only_new.wait(timeout=60)) == ("four\nfive\n", 0)


def test_logs_on_a_terminal_mark_stderr_lines_in_red(
    server: ServerThread, client: TrackingClient
) -> None:
    execution_id = new_execution(client)
    client.append_logs(
        execution_id,
        ["out", execution_pb2.LogEntry(message="err", stream=execution_pb2.LOG_STREAM_STDERR)],
    )
    main, terminal = os.openpty()
    try:
        printer = subprocess.Popen(
            [str(TRACKING), "logs", execution_id],
            stdout=terminal,
            stderr=terminal,
            env=cli_env(server.address),
        )
        os.close(terminal)
        assert printer.wait(60) == 0
        drawn = Screen(main).read_to_end().decode()
    finally:
        os.close(main)
    assert drawn.splitlines() == ["out", "\x1b[31mE\x1b[0m err"]


def test_watch_on_a_terminal_shows_how_long_the_job_ran(
    server: ServerThread, client: TrackingClient
) -> None:
    execution_id = new_execution(client)
    client.start(execution_id)
    client.stop(execution_id, "SUCCESS")
    two_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    client.set_times(
        execution_id,
        create_time=two_hours_ago,
        start_time=two_hours_ago,
        duration=dt.timedelta(hours=1, minutes=2, seconds=3),
    )
    main, terminal = os.openpty()
    try:
        watcher = subprocess.Popen(
            [str(TRACKING), "watch", execution_id],
            stdout=terminal,
            stderr=terminal,
            env={**cli_env(server.address), "COLUMNS": "100"},
        )
        os.close(terminal)
        assert watcher.wait(60) == 0
        drawn = Screen(main).read_to_end().decode()
    finally:
        os.close(main)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn)
    # The job's duration, not the watch's few seconds.
    assert re.search(r"SUCCESS +━+ 100% 1:02:03\s*$", plain), plain
    assert "\x1b[32m━" in drawn  # a finished bar is green on any terminal


@pytest.mark.parametrize("group", [[], ["deployments"], ["executions"], ["report"]])
def test_a_bare_command_prints_its_help_once(server: ServerThread, group: list[str]) -> None:
    result = tracking(server.address, *group)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Usage:") == 1


def test_version_is_the_packages(server: ServerThread) -> None:
    result = tracking(server.address, "--version")
    assert (result.returncode, result.stdout) == (0, f"tracking {version('tracking')}\n")


@pytest.mark.parametrize("address", ["127.0.0.1:99999", "localhost:0", "[::1]:70000"])
def test_an_address_whose_port_cannot_be_one_is_refused(server: ServerThread, address: str) -> None:
    result = tracking(server.address, "deployments", "list", "--address", address)
    assert result.returncode == 2
    assert "the port must be between 1 and 65535" in one_error_line(result)


def test_deleting_a_deployment_with_unfinished_executions_needs_yes(
    server: ServerThread, client: TrackingClient
) -> None:
    name = unique("busy")
    client.create_deployment(name, "p", "ENDPOINT")
    execution_id = client.create_execution(deployment_name=name).execution_id
    client.start(execution_id)
    refused = tracking(server.address, "deployments", "delete", name)
    assert refused.returncode == 2
    assert "has 1 executions that have not ended" in one_error_line(refused)
    assert "--yes" in one_error_line(refused)
    assert client.get_job_status(execution_id).status == 2  # RUNNING: nothing deleted
    deleted = tracking(server.address, "deployments", "delete", name, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == f"deleted deployment {name}"
