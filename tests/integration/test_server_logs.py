"""What `tracking serve` writes on stderr: text for a person at a terminal, JSON lines in a
pipe; one line per call only at DEBUG; a client that hangs up mid-stream is no error."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.cli import cli_env
from tests.support.process import TRACKING, ServerProcess
from tests.support.terminal import Screen
from tracking.client import NotFound, TrackingClient

TEXT_LINE = re.compile(r"\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: .*")


def serve_on_a_terminal(database: str, **env: str) -> tuple[subprocess.Popen[bytes], Screen, str]:
    """`tracking serve` with stderr on a pseudo-terminal; its address once it serves."""
    main, terminal = os.openpty()
    server = subprocess.Popen(
        [str(TRACKING), "serve", "--address", "127.0.0.1:0", "--http-address", ""],
        stderr=terminal,
        env={**cli_env(""), "TRACKING_DATABASE_URL": database, **env},
    )
    os.close(terminal)
    screen = Screen(main)
    deadline = time.monotonic() + 60
    while not (found := re.search(r"serving on (\S+:\d+)", screen.read().decode())):
        assert server.poll() is None, screen.drawn
        assert time.monotonic() < deadline, screen.drawn
    return server, screen, found[1]


def calls_and_stop(server: subprocess.Popen[bytes], screen: Screen, address: str) -> list[str]:
    with TrackingClient(address) as client:
        client.service_info()
        with pytest.raises(NotFound):
            client.get_execution("no-such-execution")
    server.send_signal(signal.SIGTERM)
    assert server.wait(60) == 0
    lines = screen.read_to_end().decode().splitlines()
    os.close(screen.fd)
    return lines


def test_on_a_terminal_the_log_is_text_without_a_line_per_call(tmp_path: Path) -> None:
    server, screen, address = serve_on_a_terminal(f"sqlite:///{tmp_path}/t.db")
    lines = calls_and_stop(server, screen, address)
    assert all(TEXT_LINE.fullmatch(line) for line in lines), lines
    assert any(f"INFO tracking: tracking serving on {address}" in line for line in lines)
    assert not [line for line in lines if "tracking.calls" in line]


def test_at_debug_each_call_is_one_line_with_its_fields(tmp_path: Path) -> None:
    server, screen, address = serve_on_a_terminal(
        f"sqlite:///{tmp_path}/t.db", TRACKING_LOG_LEVEL="DEBUG"
    )
    lines = calls_and_stop(server, screen, address)
    calls = [line for line in lines if " tracking.calls: " in line]
    assert [re.sub(r"^\S+ ", "", line).split(" duration_ms")[0] for line in calls] == [
        "DEBUG tracking.calls: call method=/tracking.v1.TrackingService/GetServiceInfo code=OK",
        "DEBUG tracking.calls: call method=/tracking.v1.TrackingService/GetExecution"
        " code=NOT_FOUND",
    ]
    assert all("request_id=" in line for line in calls)


def test_in_a_pipe_the_log_is_json_lines(tmp_path: Path) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path}/t.db").start()
    assert server.terminate() == 0
    records = [json.loads(line) for line in server.output]
    assert any(r["message"].startswith("tracking serving on") for r in records)
    assert {r["level"] for r in records} == {"INFO"}


def test_a_client_that_hangs_up_mid_stream_is_no_error(tmp_path: Path) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path}/t.db").start()
    try:
        with TrackingClient(server.address) as client:
            execution_id = client.create_execution(pipeline_name="p").execution_id
            for batch in range(10):
                client.append_logs(
                    execution_id, [f"{batch} {i} " + "x" * 1000 for i in range(2000)]
                )
        # Followers stopped in the middle of the replay, then killed: the server's writes
        # find no one.
        for _ in range(3):
            follower = subprocess.Popen(
                [str(TRACKING), "logs", "-f", execution_id],
                stdout=subprocess.DEVNULL,
                env=cli_env(server.address),
            )
            time.sleep(1.5)
            follower.send_signal(signal.SIGSTOP)
            time.sleep(1)
            follower.kill()
            follower.wait(30)
        assert server.terminate() == 0
    finally:
        server.kill()
    records = [json.loads(line) for line in server.output]
    assert [r for r in records if r["level"] != "INFO"] == []
