"""`tracking run` keeps a command's output while the server is down and delivers all of it."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.chaos import free_address
from tests.support.cli import start_tracking
from tests.support.factories import unique
from tests.support.process import ServerProcess
from tracking.client import TrackingClient
from tracking.v1 import status_pb2

CHILD = (
    "import os, sys, time\n"
    "release = sys.argv[1]\n"
    "for i in range(100): print(f'line {i}', flush=True)\n"
    "while not os.path.exists(release): time.sleep(0.05)\n"
    "for i in range(100, 1100): print(f'line {i}', flush=True)\n"
)


def test_lines_written_while_the_server_is_down_arrive_once_in_order(
    fresh_database: str, tmp_path: Path
) -> None:
    address = free_address()
    release = tmp_path / "release"
    execution_id = unique("outage")
    server = ServerProcess(fresh_database, address=address).start()
    runner = start_tracking(
        address,
        "run", "--pipeline", "outage", "--id", execution_id,
        "--", sys.executable, "-c", CHILD, str(release),
    )  # fmt: skip
    assert runner.stdout is not None
    try:
        while runner.stdout.readline() != "line 99\n":
            pass
        server.kill()
        release.touch()
        # Everything the command writes now has nowhere to go but the runner's buffer.
        while runner.stdout.readline() != "line 1099\n":
            pass
        server = ServerProcess(fresh_database, address=address).start()
        _, err = runner.communicate(timeout=120)
        assert runner.returncode == 0, err
        with TrackingClient(address) as client:
            messages = [e.message for e in client.get_execution_logs(execution_id)]
            status = client.get_job_status(execution_id)
    finally:
        runner.kill()
        server.kill()
    assert messages == [f"line {i}" for i in range(1100)]
    # A success has no stop message: the runner's "exit code 0" is the last phase.
    assert (status.status, status.stop_message, status.phase) == (
        status_pb2.RUNNING_STATUS_SUCCESS,
        "",
        "exit code 0",
    )
