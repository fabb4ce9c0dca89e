"""A `tracking run` that is SIGKILLed stops sending heartbeats: its job becomes UNKNOWN."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.conftest import ServerFactory
from tests.support.cli import start_tracking
from tests.support.factories import unique
from tests.support.server import ServerThread
from tests.support.waiting import wait_for
from tracking.client import NotFound, TrackingClient
from tracking.v1 import status_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

S = status_pb2
LONG_COMMAND = "import time\nprint('working', flush=True)\nwhile True: time.sleep(0.1)\n"
TIMEOUT = 1.5  # seconds: what the runner is given with --heartbeat-timeout


@pytest.fixture
def server(make_server: ServerFactory) -> ServerThread:
    return make_server(lease_sweep_seconds=0.1)


class Watcher(threading.Thread):
    """Collects the statuses one WatchStatus stream reports, from the execution's start."""

    def __init__(self, address: str, execution_id: str, after_revision: int) -> None:
        super().__init__(daemon=True)
        self.channel = grpc.insecure_channel(address)
        request = pb.WatchStatusRequest(execution_id=execution_id, after_revision=after_revision)
        self.stream = TrackingServiceStub(self.channel).WatchStatus(request, timeout=120)
        self.statuses: list[int] = []
        self.revisions: list[int] = []

    def run(self) -> None:
        try:
            for response in self.stream:
                if response.HasField("event"):
                    self.statuses.append(response.event.job_status.status)
                    self.revisions.append(response.event.revision)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                raise

    def close(self) -> None:
        self.stream.cancel()
        self.join(10)
        self.channel.close()


@pytest.fixture
def client(server: ServerThread) -> Iterator[TrackingClient]:
    with TrackingClient(server.address) as client:
        yield client


def test_a_sigkilled_runner_leaves_its_job_unknown_until_a_worker_reports_again(
    server: ServerThread, client: TrackingClient
) -> None:
    execution_id = unique("lost")
    runner = start_tracking(
        server.address,
        "run", "--pipeline", "lost", "--id", execution_id,
        "--heartbeat-timeout", str(TIMEOUT), "-q",
        "--", sys.executable, "-c", LONG_COMMAND,
    )  # fmt: skip
    command_group = 0
    watchers: list[Watcher] = []
    try:
        wait_for(lambda: has_output(client, execution_id), "the command's output")
        running = client.get_job_status(execution_id)
        assert running.status == S.RUNNING_STATUS_RUNNING
        watchers = [Watcher(server.address, execution_id, running.revision - 1) for _ in range(3)]
        for watcher in watchers:
            watcher.start()
        # Heartbeats keep it running well past the timeout while the runner lives.
        beats = client.get_job_status(execution_id).last_heartbeat_time.ToDatetime()
        wait_for(
            lambda: client.get_job_status(execution_id).last_heartbeat_time.ToDatetime() > beats,
            "a heartbeat from the runner",
        )
        assert client.get_job_status(execution_id).status == S.RUNNING_STATUS_RUNNING

        command_group = os.getpgid(int(_child_pid(runner.pid)))
        runner.kill()
        runner.wait(10)
        wait_for(
            lambda: client.get_job_status(execution_id).status == S.RUNNING_STATUS_UNKNOWN,
            "the lease to run out",
        )
        lapsed = client.get_job_status(execution_id)
        assert lapsed.stop_message.startswith("no report from the worker since")
        assert lapsed.revision == running.revision + 1

        back = client.heartbeat(execution_id)  # a worker that comes back
        assert back.status == S.RUNNING_STATUS_RUNNING
        client.stop(execution_id, "ERROR", "given up")
        for watcher in watchers:
            watcher.join(30)
            assert watcher.statuses == [
                S.RUNNING_STATUS_RUNNING,
                S.RUNNING_STATUS_UNKNOWN,
                S.RUNNING_STATUS_RUNNING,
                S.RUNNING_STATUS_ERROR,
            ]
            assert watcher.revisions == list(range(running.revision, running.revision + 4))
    finally:
        for watcher in watchers:
            watcher.close()
        if runner.poll() is None:
            runner.kill()
        if command_group:
            os.killpg(command_group, signal.SIGKILL)


def test_heartbeats_go_on_after_the_platform_suspends_and_resumes_the_job(
    server: ServerThread, client: TrackingClient
) -> None:
    execution_id = unique("paused")
    runner = start_tracking(
        server.address,
        "run", "--pipeline", "paused", "--id", execution_id,
        "--heartbeat-timeout", str(TIMEOUT), "-q",
        "--", sys.executable, "-c", LONG_COMMAND,
    )  # fmt: skip
    try:
        wait_for(lambda: has_output(client, execution_id), "the command's output")
        refused = refused_heartbeats(server)
        client.suspend(execution_id, reason="preempted")
        # While suspended the runner's heartbeats are refused; once resumed they count again.
        wait_for(lambda: refused_heartbeats(server) > refused, "a heartbeat refused meanwhile")
        resumed = client.resume(execution_id)
        wait_for(
            lambda: (
                client.get_job_status(execution_id).last_heartbeat_time.ToDatetime()
                > resumed.last_heartbeat_time.ToDatetime()
            ),
            "a heartbeat after the resume",
            guard=30,
        )
        assert client.get_job_status(execution_id).status == S.RUNNING_STATUS_RUNNING
        client.cancel_execution(execution_id, reason="done")
        assert runner.wait(60) == 128 + signal.SIGTERM  # the command was stopped
    finally:
        if runner.poll() is None:
            runner.kill()


def refused_heartbeats(server: ServerThread) -> float:
    """UpdateJobStatus calls the server answered FAILED_PRECONDITION, by its own metrics."""
    assert server.app is not None
    labels = {"method": "UpdateJobStatus", "code": "FAILED_PRECONDITION"}
    value = server.app.metrics.registry.get_sample_value("tracking_rpc_total", labels)
    return value or 0.0


def has_output(client: TrackingClient, execution_id: str) -> bool:
    try:
        return bool(client.get_execution_logs(execution_id))
    except NotFound:  # not created yet
        return False


def _child_pid(runner_pid: int) -> str:
    """The pid of the command the runner started (its only child)."""
    children = Path(f"/proc/{runner_pid}/task/{runner_pid}/children").read_text().split()
    assert len(children) == 1, children
    return children[0]
