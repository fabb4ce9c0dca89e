"""Server-sent events across a SIGKILL and a restart, and across a drain: a reader that
reconnects as EventSource does (Last-Event-ID) gets every line and every change once."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from tests.support.chaos import free_address
from tests.support.http import events
from tests.support.process import ServerProcess
from tests.support.waiting import wait_for
from tracking.client import TrackingClient

RETRYABLE = {"unavailable", "resource_exhausted"}


@dataclass
class Follower:
    """Follows one URL the way a browser's EventSource does: on a cut, a retryable error
    or a refused connection it reconnects, sending the last id it saw."""

    url: str
    received: list[tuple[str, object]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0
    ended = False
    last_id = ""

    def run(self) -> None:
        give_up = time.monotonic() + 120
        while not self.ended and time.monotonic() < give_up:
            headers = {"last-event-id": self.last_id} if self.last_id else {}
            try:
                with httpx.stream("GET", self.url, headers=headers, timeout=30) as stream:
                    if stream.status_code != 200:
                        stream.read()
                        self.errors.append(stream.text)
                        return
                    for event in events(stream.iter_lines()):
                        if event.kind == "end":
                            self.ended = True
                            return
                        if event.kind == "error":
                            if event.data["code"] not in RETRYABLE:
                                self.errors.append(str(event.data))
                                return
                            break
                        self.received.append((event.id, event.data))
                        self.last_id = event.id
            except httpx.TransportError:
                time.sleep(0.1)  # the browser's retry: interval
            self.reconnects += 1

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread


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
