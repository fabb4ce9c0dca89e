"""SIGTERM under load: a call the server accepted runs to its end; the others get UNAVAILABLE.

Writers keep sending AppendLogs batches through the project's client while the server is
asked to stop. Afterwards every batch is accounted for: acknowledged batches are stored,
and every batch that failed failed with UNAVAILABLE (which clients retry), never CANCELLED.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.chaos import free_address
from tests.support.cli import start_tracking
from tests.support.databases import postgres_database
from tests.support.factories import unique
from tests.support.process import ServerProcess
from tests.support.waiting import wait_for
from tracking.client import NO_RETRY, RemoteException, TrackingClient, Unavailable
from tracking.v1 import status_pb2

WRITERS = 8
BATCH = 200


class Writer(threading.Thread):
    """Appends numbered batches to one execution until the server stops answering."""

    def __init__(self, address: str, execution_id: str) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.execution_id = execution_id
        self.acknowledged: list[int] = []  # batch numbers
        self.failures: Counter[str] = Counter()
        self.sent = 0
        self.details: list[str] = []

    def run(self) -> None:
        with TrackingClient(self.address, retry=NO_RETRY, timeout=30) as client:
            while True:
                batch = self.sent
                self.sent += 1
                lines = [f"{batch}:{i}" for i in range(BATCH)]
                try:
                    client.append_logs(self.execution_id, lines)
                except RemoteException as error:
                    self.failures[f"{error.code.name}"] += 1
                    self.details.append(f"{batch}: {error.code.name} {error.message}")
                    if error.code is grpc.StatusCode.UNAVAILABLE:
                        return
                    continue
                self.acknowledged.append(batch)


def stored_batches(client: TrackingClient, execution_id: str) -> dict[int, int]:
    """How many lines of each batch the execution holds."""
    counts: Counter[int] = Counter()
    after = 0
    while True:
        entries = client.get_execution_logs(execution_id, after_seq=after)
        if not entries:
            return dict(counts)
        for entry in entries:
            counts[int(entry.message.split(":")[0])] += 1
        after = entries[-1].seq


def test_sigterm_lets_accepted_writes_finish_and_refuses_the_rest_with_unavailable(
    fresh_database: str,
) -> None:
    address = free_address()
    server = ServerProcess(fresh_database, address=address).start()
    with TrackingClient(address) as client:
        executions = []
        for _ in range(WRITERS):
            execution_id = client.create_execution(pipeline_name="drain").execution_id
            client.start(execution_id)
            executions.append(execution_id)
    writers = [Writer(address, execution_id) for execution_id in executions]
    for writer in writers:
        writer.start()
    try:
        wait_for(lambda: all(len(w.acknowledged) >= 3 for w in writers), "writes under way")
        assert server.terminate() == 0
        for writer in writers:
            writer.join(60)
            assert not writer.is_alive()
    finally:
        server.kill()
    server = ServerProcess(fresh_database, address=address).start()
    try:
        with TrackingClient(address) as client:
            for writer in writers:
                stored = stored_batches(client, writer.execution_id)
                assert dict(writer.failures) == {"UNAVAILABLE": 1}, writer.details
                for batch in writer.acknowledged:
                    assert stored.get(batch) == BATCH, f"acknowledged batch {batch} lost"
                # Nothing half-written: a batch is stored whole or not at all.
                assert set(stored.values()) <= {BATCH}
    finally:
        server.kill()


LINES = 3000
CHILD = (
    "import sys, time\n"
    f"for i in range({LINES}):\n"
    "    print(f'line {i}', flush=True)\n"
    "    if i % 100 == 0: time.sleep(0.02)\n"
)


def test_tracking_run_loses_nothing_across_a_drain(fresh_database: str, tmp_path: Path) -> None:
    address = free_address()
    execution_id = unique("drain")
    server = ServerProcess(fresh_database, address=address).start()
    runner = start_tracking(
        address,
        "run", "--pipeline", "drain", "--id", execution_id,
        "--", sys.executable, "-c", CHILD,
    )  # fmt: skip
    assert runner.stdout is not None
    try:
        while runner.stdout.readline() != "line 1000\n":
            pass
        assert server.terminate() == 0
        server = ServerProcess(fresh_database, address=address).start()
        runner.stdout.read()
        assert runner.wait(120) == 0
        with TrackingClient(address) as client:
            messages = [e.message for e in client.get_execution_logs(execution_id)]
            status = client.get_job_status(execution_id)
    finally:
        runner.kill()
        server.kill()
    assert messages == [f"line {i}" for i in range(LINES)]
    assert status.status == status_pb2.RUNNING_STATUS_SUCCESS


@pytest.mark.postgres
def test_health_says_not_serving_while_a_drain_lets_a_call_finish() -> None:
    with postgres_database() as url:
        address = free_address()
        server = ServerProcess(url, address=address, TRACKING_GRACE_SECONDS="60").start()
        locker = asyncio.new_event_loop()
        try:
            with TrackingClient(address, retry=NO_RETRY, timeout=60) as client:
                execution_id = client.create_execution(pipeline_name="drain").execution_id
                client.start(execution_id)
                # Another session holds the execution's row: the next change waits for it.
                connection = locker.run_until_complete(asyncpg.connect(url))
                locker.run_until_complete(connection.execute("BEGIN"))
                locker.run_until_complete(
                    connection.execute(
                        "SELECT 1 FROM executions WHERE execution_id = $1 FOR UPDATE", execution_id
                    )
                )
                with ThreadPoolExecutor(1) as pool:
                    blocked = pool.submit(client.update_progress, execution_id, 0.5)
                    waiting = (
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                    wait_for(
                        lambda: locker.run_until_complete(connection.fetchval(waiting)) == 1,
                        "the call to wait for the row",
                    )
                    assert server.process is not None
                    server.process.send_signal(signal.SIGTERM)
                    with grpc.insecure_channel(address) as channel:
                        health = health_pb2_grpc.HealthStub(channel)
                        wait_for(lambda: serving_status(health) == NOT_SERVING, "health to say so")
                        with pytest.raises(Unavailable, match="shutting down"):
                            client.get_job_status(execution_id)
                        assert serving_status(health) == NOT_SERVING  # still answering
                    locker.run_until_complete(connection.execute("ROLLBACK"))
                    assert blocked.result(60).progress == 0.5
            assert server.process.wait(60) == 0
        finally:
            server.kill()
            locker.close()


NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def serving_status(health: health_pb2_grpc.HealthStub) -> int:
    response = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    return int(response.status)
