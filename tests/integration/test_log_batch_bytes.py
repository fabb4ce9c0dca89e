"""A log stream reads and sends long lines a few at a time: what a reader that stops
reading makes the server hold is bounded in bytes, not in lines."""

from __future__ import annotations

import httpx

from tests.support.factories import create_execution, start
from tests.support.http import EventReader
from tests.support.server import ServerThread
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

LINES = 40
LONG = 60_000
# operations/log_reads.BATCH_CHARS, and the line that crosses it.
MOST_CHARS = 256 * 1024 + LONG


def long_log(stub: TrackingServiceStub) -> str:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    for half in range(2):
        entries = [
            epb.LogEntry(message=f"{half * LINES // 2 + i:03d}".ljust(LONG, "x"))
            for i in range(LINES // 2)
        ]
        stub.AppendLogs(pb.AppendLogsRequest(execution_id=execution_id, entries=entries))
    return execution_id


def test_a_log_of_long_lines_streams_in_small_responses(
    stub: TrackingServiceStub, server: ServerThread
) -> None:
    execution_id = long_log(stub)
    request = pb.StreamLogsRequest(execution_id=execution_id, follow=False)
    responses = [r for r in stub.StreamLogs(request, timeout=60) if r.entries]
    assert [e.seq for r in responses for e in r.entries] == list(range(1, LINES + 1))
    largest = max(sum(len(e.message) for e in r.entries) for r in responses)
    assert largest <= MOST_CHARS, largest
    path = f"/events/StreamLogs?execution_id={execution_id}&follow=false"
    with (
        httpx.Client(base_url=server.http_url, timeout=60) as client,
        client.stream("GET", path) as events,
    ):
        batches = [e.data["entries"] for e in EventReader(events).rest() if e.kind != "end"]
    assert [int(entry["seq"]) for batch in batches for entry in batch] == list(range(1, LINES + 1))
    assert max(sum(len(entry["message"]) for entry in batch) for batch in batches) <= MOST_CHARS
