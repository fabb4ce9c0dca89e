"""Server-sent events across a SIGKILL and a restart, and across a drain: a reader that
reconnects as EventSource does (Last-Event-ID) gets every line and every change once."""

from __future__ import annotations

import httpx

from tests.support.chaos import free_address
from tests.support.http import events
from tests.support.process import ServerProcess
from tests.support.sse_follower import Follower
from tests.support.waiting import wait_for
from tracking.client import TrackingClient


def test_logs_and_status_followed_across_a_sigkill_and_a_restart(fresh_database: str) -> None:
    address, http_address = free_address(), free_address()
    server = ServerProcess(fresh_database, address, http_address).start()
    try:
        with TrackingClient(server.address) as client:
            execution_id = client.create_execution(pipeline_name="resume").execution_id
            client.start(execution_id)
            client.append_logs(execution_id, [f"line {i}" for i in range(1, 51)])
        logs = Follower(
            f"{server.http_url}/events/StreamLogs?execution_id={execution_id}&follow=true"
        )
        watch = Follower(f"{server.http_url}/events/WatchStatus?execution_id={execution_id}")
        threads = [logs.start(), watch.start()]
        wait_for(lambda: len(logs.received) >= 1 and watch.received, "both streams to open")
        with TrackingClient(server.address) as client:
            client.append_logs(execution_id, [f"line {i}" for i in range(51, 101)])
            client.update_progress(execution_id, 0.5, phase="half")
        server.kill()
        server = ServerProcess(fresh_database, address, http_address).start()
        with TrackingClient(server.address) as client:
            client.append_logs(execution_id, [f"line {i}" for i in range(101, 151)])
            client.update_progress(execution_id, 0.9, phase="nearly")
            client.stop(execution_id)
        for thread in threads:
            thread.join(120)
    finally:
        server.kill()

    assert logs.errors == watch.errors == []
    assert logs.ended
    assert watch.ended
    assert logs.reconnects >= 1
    assert watch.reconnects >= 1
    seqs = [int(e["seq"]) for _, data in logs.received for e in data["entries"]]  # type: ignore[index]
    messages = [e["message"] for _, data in logs.received for e in data["entries"]]  # type: ignore[index]
    assert seqs == list(range(1, 151))
    assert messages == [f"line {i}" for i in range(1, 151)]
    revisions = [int(event_id) for event_id, _ in watch.received]
    assert revisions == list(range(revisions[0], revisions[0] + len(revisions)))
    assert revisions[-1] == 5  # created, started, half, nearly, stopped


def test_a_drain_ends_event_streams_so_that_they_reconnect(fresh_database: str) -> None:
    server = ServerProcess(fresh_database, http_address="127.0.0.1:0").start()
    with TrackingClient(server.address) as client:
        execution_id = client.create_execution(pipeline_name="drain").execution_id
    url = f"{server.http_url}/events/WatchStatus?execution_id={execution_id}"
    with httpx.stream("GET", url, timeout=30) as stream:
        lines = stream.iter_lines()
        first = next(events(lines))
        assert first.id == "1"
        assert server.terminate() == 0
        rest = list(events(lines))
    assert [e.kind for e in rest] == ["error"]
    assert rest[0].data["code"] == "unavailable"
