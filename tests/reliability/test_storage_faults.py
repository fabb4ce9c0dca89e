"""A SQLite database that stops taking writes (read-only, full, deleted) on a bad day.

Writes are answered UNAVAILABLE with the reason, health is NOT_SERVING while they cannot
succeed, and the server recovers by itself once the cause is gone; the liveness name, which
turns NOT_SERVING only when a restart would help, stays SERVING. The database files are
made immutable (chattr +i: refused even to root), or live on a small tmpfs of the test's
own that fills up; both need root.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.environment import cannot_run
from tests.support.server import ServerThread
from tests.support.waiting import wait_for
from tracking.client import NO_RETRY, TrackingClient, Unavailable
from tracking.service.app import LIVENESS
from tracking.service.settings import Settings

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _run(*command: str) -> None:
    """Run a system command the test needs; skip (fail under CI=true) if it cannot run."""
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as error:
        cannot_run(f"{command[0]} failed (needs root): {getattr(error, 'stderr', error)}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    _run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk))
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
def plain_disk(tmp_path: Path) -> Path:
    disk = tmp_path / "plain"
    disk.mkdir()
    return disk


@contextmanager
def serving_from(disk: Path) -> Iterator[tuple[ServerThread, TrackingClient]]:
    settings = Settings(
        address="127.0.0.1:0",
        database_url=f"sqlite:///{disk / 'tracking.db'}",
        storage_check_seconds=0.1,
    )
    thread = ServerThread(settings).start()
    try:
        with TrackingClient(thread.address, retry=NO_RETRY) as client:
            yield thread, client
    finally:
        thread.stop()


def health_of(server: ServerThread, service: str = "") -> int:
    with grpc.insecure_channel(server.address) as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service)
        )
    return int(response.status)


def running(client: TrackingClient) -> str:
    execution_id = client.create_execution(pipeline_name="disk").execution_id
    client.start(execution_id)
    return execution_id


def test_a_read_only_database_is_unavailable_until_it_is_writable_again(
    plain_disk: Path,
) -> None:
    with serving_from(plain_disk) as (server, client):
        execution_id = running(client)
        # The database and its WAL refuse writes; the shared-memory file stays as it is: it is
        # mapped into memory, and a write to a mapping the kernel refuses is SIGBUS.
        files = [str(plain_disk / name) for name in ("tracking.db", "tracking.db-wal")]
        _run("chattr", "+i", *files)
        try:
            with pytest.raises(Unavailable, match="the database refuses writes"):
                client.append_logs(execution_id, ["lost?"])
            wait_for(lambda: health_of(server) == NOT_SERVING, "health to turn NOT_SERVING")
            # Restarting the server would not make the database writable: a liveness probe
            # must not ask for it.
            assert health_of(server, LIVENESS) == SERVING
        finally:
            _run("chattr", "-i", *files)
        wait_for(lambda: health_of(server) == SERVING, "health to come back")
        assert client.append_logs(execution_id, ["stored"]) == 1
        assert [e.message for e in client.get_execution_logs(execution_id)] == ["stored"]


def fill_until_refused(client: TrackingClient, execution_id: str) -> None:
    for _ in range(100):  # until the pages the database still had are used up
        client.append_logs(execution_id, ["x" * 60_000] * 20)


def test_a_full_disk_is_unavailable_until_there_is_room_again(small_disk: Path) -> None:
    with serving_from(small_disk) as (server, client):
        execution_id = running(client)
        filler = small_disk / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
        with pytest.raises(Unavailable, match="the database refuses writes"):
            fill_until_refused(client, execution_id)
        wait_for(lambda: health_of(server) == NOT_SERVING, "health to turn NOT_SERVING")
        assert health_of(server, LIVENESS) == SERVING
        filler.unlink()
        wait_for(lambda: health_of(server) == SERVING, "health to come back")
        client.append_logs(execution_id, ["after"])
        assert client.get_execution_logs(execution_id, after_seq=0, limit=0)[-1].seq > 0
        assert client.get_job_status(execution_id).status == 2  # RUNNING, unchanged


def test_a_deleted_database_file_is_noticed_and_writes_are_refused(plain_disk: Path) -> None:
    with serving_from(plain_disk) as (server, client):
        execution_id = running(client)
        (plain_disk / "tracking.db").unlink()
        wait_for(lambda: health_of(server) == NOT_SERVING, "health to turn NOT_SERVING")
        # Only a restart opens the new file: this one a liveness probe asks for.
        assert health_of(server, LIVENESS) == NOT_SERVING
        with pytest.raises(Unavailable, match="was deleted or replaced while the server ran"):
            client.append_logs(execution_id, ["into the void"])
