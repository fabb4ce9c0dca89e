"""Server-sent event streams whose reader never reads: closed like a slow gRPC watcher once
they fall behind, and resumable from the last event the reader did take."""

from __future__ import annotations

from contextlib import ExitStack

import grpc
import httpx

from tests.conftest import ServerFactory
from tests.support.factories import act, create_execution, start
from tests.support.http import EventReader, never_reading
from tests.support.waiting import wait_for
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

UNREAD = 5
QUEUE = 16
PHASE = "p" * 2000  # events of about 2 KB: the socket buffers fill in a few thousand


def test_a_watcher_that_never_reads_is_closed_once_behind_then_resumes(
    make_server: ServerFactory,
) -> None:
    server = make_server(http_address="127.0.0.1:0", watcher_queue=QUEUE)
    assert server.app is not None
    hub = server.app.hub
    with grpc.insecure_channel(server.address) as channel, ExitStack() as stack:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        start(stub, execution_id)
        path = f"/events/WatchStatus?execution_id={execution_id}"
        for _ in range(UNREAD):
            stack.enter_context(never_reading(server.http_url, path))
        wait_for(lambda: hub.watcher_count == UNREAD, "the unread streams to open")
        revision = 0
        for turn in range(5000):
            revision = act(stub, execution_id, progress=_progress(turn)).revision
            if hub.watcher_count == 0:
                break
        assert hub.watcher_count == 0, f"{hub.watcher_count} unread watchers still open"
        # A reader that comes back resumes after the last event it took.
        with (
            httpx.Client(base_url=server.http_url, timeout=30) as client,
            client.stream("GET", path, headers={"last-event-id": str(revision - 1)}) as again,
        ):
            (event,) = EventReader(again).take(1)
            assert event.id == str(revision)


def _progress(turn: int) -> pb.ProgressAction:
    return pb.ProgressAction(progress=(turn % 100) / 100, phase=f"{turn}{PHASE}")
