"""Log readers that stop reading, and reads of long lines: what the server holds for them is
bounded in bytes, not lines; a follower that falls too far behind is closed, as a slow
status watcher is, and resumes from the last line it took."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import httpx
import pytest
from sqlalchemy import event

from tests.conftest import ServerFactory
from tests.support.factories import create_deployment, create_execution, start
from tests.support.http import EventReader, never_reading
from tests.support.server import ServerThread
from tests.support.waiting import wait_for
from tracking.service.store.models import LogLineRow
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

LONG = 60_000
BACKLOG = 1 << 20  # characters a follower may fall behind (the default is 16 MiB)
# operations/log_reads.BATCH_CHARS, and the line that crosses it.
MOST_BATCH_CHARS = 256 * 1024 + LONG
# operations/logs.READ_CHARS and SCAN_BATCH_CHARS, and the line that crosses each.
MOST_READ_CHARS = 2 * 1024 * 1024 + LONG
MOST_SCAN_CHARS = 4 * 1024 * 1024 + LONG


def _line(seq: int) -> epb.LogEntry:
    return epb.LogEntry(message=f"{seq:05d}".ljust(LONG, "x"))


def _append(stub: TrackingServiceStub, execution_id: str, first: int, count: int) -> int:
    entries = [_line(first + i) for i in range(count)]
    return stub.AppendLogs(
        pb.AppendLogsRequest(execution_id=execution_id, entries=entries)
    ).last_seq


def _grow_until_closed(server: ServerThread, stub: TrackingServiceStub, execution_id: str) -> int:
    """Append long lines until the server closed every stream; the last seq."""
    assert server.app is not None
    hub = server.app.hub
    last = 0
    for _ in range(200):
        last = _append(stub, execution_id, last + 1, 10)
        if hub.watcher_count == 0:
            break
    assert hub.watcher_count == 0, f"{hub.watcher_count} unread log followers still open"
    return last


def _take_all(responses: Iterator[pb.StreamLogsResponse], seqs: list[int]) -> None:
    for response in responses:
        seqs += [entry.seq for entry in response.entries]


def _running(stub: TrackingServiceStub, **fields: Any) -> str:
    execution_id = create_execution(stub, **fields).execution_id
    start(stub, execution_id)
    return execution_id


def test_a_log_follower_that_never_reads_is_closed_once_behind_then_resumes(
    make_server: ServerFactory,
) -> None:
    server = make_server(watcher_log_backlog=BACKLOG)
    assert server.app is not None
    hub = server.app.hub
    with (
        grpc.insecure_channel(server.address) as channel,
        grpc.insecure_channel(server.address, [("grpc.use_local_subchannel_pool", 1)]) as other,
    ):
        stub = TrackingServiceStub(channel)
        execution_id = _running(stub)
        request = pb.StreamLogsRequest(execution_id=execution_id, follow=True)
        unread = TrackingServiceStub(other).StreamLogs(request, timeout=300)
        wait_for(lambda: hub.watcher_count == 1, "the follower to subscribe")
        last = _grow_until_closed(server, stub, execution_id)
        # Before: the follower stayed open, holding its batch, however far the log grew.
        # Its reader, back, gets what was sent, then where to resume.
        seqs: list[int] = []
        with pytest.raises(grpc.RpcError) as ended:
            _take_all(unread, seqs)
        error: Any = ended.value
        assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, error
        assert re.search(rf"resume from after_seq={seqs[-1]}\b", error.details())
        assert seqs == list(range(1, len(seqs) + 1))
        assert seqs[-1] < last
        again = pb.StreamLogsRequest(execution_id=execution_id, after_seq=seqs[-1], follow=False)
        resumed = [e.seq for r in stub.StreamLogs(again, timeout=120) for e in r.entries]
        assert resumed == list(range(seqs[-1] + 1, last + 1))


def test_an_event_stream_of_a_log_never_read_is_closed_once_behind_then_resumes(
    make_server: ServerFactory,
) -> None:
    server = make_server(http_address="127.0.0.1:0", watcher_log_backlog=BACKLOG)
    assert server.app is not None
    hub = server.app.hub
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = _running(stub)
        path = f"/events/StreamLogs?execution_id={execution_id}&follow=true"
        with never_reading(server.http_url, path):
            wait_for(lambda: hub.watcher_count == 1, "the event stream to open")
            last = _grow_until_closed(server, stub, execution_id)
        # An EventSource that comes back resumes after the last line it took.
        with (
            httpx.Client(base_url=server.http_url, timeout=60) as client,
            client.stream(
                "GET",
                path.replace("follow=true", "follow=false"),
                headers={"last-event-id": "7"},
            ) as events,
        ):
            batches = [e.data["entries"] for e in EventReader(events).rest() if e.kind != "end"]
        assert [int(e["seq"]) for batch in batches for e in batch] == list(range(8, last + 1))


def test_a_deployment_log_stream_of_long_lines_streams_in_small_responses(
    stub: TrackingServiceStub,
) -> None:
    deployment = create_deployment(stub)
    execution_id = _running(stub, deployment_name=deployment.name)
    last = _append(stub, execution_id, 1, 40)
    request = pb.StreamLogsRequest(deployment_name=deployment.name, follow=False)
    responses = [r for r in stub.StreamLogs(request, timeout=120) if r.entries]
    assert [e.seq for r in responses for e in r.entries] == list(range(1, last + 1))
    # Before: a batch was 100 lines however long, sent as 2 MiB responses (2,040,000
    # characters here).
    largest = max(sum(len(e.message) for e in r.entries) for r in responses)
    assert largest <= MOST_BATCH_CHARS, largest


@contextmanager
def loaded_characters(app: Any) -> Iterator[list[int]]:
    """The characters of the log lines the server loads from its database meanwhile."""
    loaded: list[int] = []

    def count(line: LogLineRow, _context: Any) -> None:
        loaded.append(len(line.message))

    event.listen(LogLineRow, "load", count)
    try:
        yield loaded
    finally:
        event.remove(LogLineRow, "load", count)


def test_a_read_of_long_lines_loads_no_more_than_a_response_holds(
    stub: TrackingServiceStub, server: ServerThread
) -> None:
    execution_id = _running(stub)
    last = 0
    for _ in range(6):
        last = _append(stub, execution_id, last + 1, 50)
    seqs: list[int] = []
    with loaded_characters(server.app) as loaded:
        first = stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=execution_id))
    # Before: the read loaded every line (18,000,000 characters) for the 34 it returned.
    assert sum(loaded) <= MOST_READ_CHARS, sum(loaded)
    assert first.truncated
    response = first
    while True:
        seqs += [entry.seq for entry in response.entries]
        if not response.truncated:
            break
        response = stub.GetExecutionLogs(
            pb.GetExecutionLogsRequest(execution_id=execution_id, after_seq=seqs[-1])
        )
    assert seqs == list(range(1, last + 1))
    # A filtered read scans a few MB at a time, and stops once a response is full.
    with loaded_characters(server.app) as loaded:
        matched = stub.GetExecutionLogs(
            pb.GetExecutionLogsRequest(execution_id=execution_id, contains="xxx")
        )
    assert sum(loaded) <= MOST_SCAN_CHARS, sum(loaded)
    assert matched.truncated
    assert [e.seq for e in matched.entries] == list(range(1, len(matched.entries) + 1))
