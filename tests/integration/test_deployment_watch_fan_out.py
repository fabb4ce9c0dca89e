"""What a change costs the watchers of a whole deployment: every one of them is woken to read
the events after its cursor, and one read serves all those at the same cursor, so many
watchers cost the database about one read per change, not one per watcher."""

from __future__ import annotations

import threading

import grpc

from tests.conftest import ServerFactory
from tests.support.factories import act, create_deployment, create_execution, start, stop
from tests.support.statements import counted_reads
from tests.support.waiting import wait_for
from tracking.v1 import status_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

WATCHERS = 20
REPORTS = 30


def test_watchers_of_a_deployment_share_their_reads_of_each_change(
    make_server: ServerFactory,
) -> None:
    server = make_server()
    assert server.app is not None
    hub, engine = server.app.hub, server.app.database.read_engine
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        deployment = create_deployment(stub).name
        execution_id = create_execution(stub, deployment_name=deployment).execution_id
        received: list[list[int]] = [[] for _ in range(WATCHERS)]

        def watch(revisions: list[int]) -> None:
            request = pb.WatchStatusRequest(deployment_name=deployment)
            for response in stub.WatchStatus(request, timeout=120):
                if response.HasField("event"):
                    revisions.append(response.event.revision)
                    if response.event.job_status.status == status_pb2.RUNNING_STATUS_SUCCESS:
                        return

        threads = [threading.Thread(target=watch, args=(mine,)) for mine in received]
        for thread in threads:
            thread.start()
        wait_for(lambda: hub.watcher_count == WATCHERS, "every watcher to subscribe")
        wait_for(lambda: all(received), "every watcher's snapshot")
        with counted_reads(engine, "execution_events") as statements:
            start(stub, execution_id)
            for turn in range(REPORTS):
                act(stub, execution_id, progress=pb.ProgressAction(progress=turn / REPORTS))
            stop(stub, execution_id)
            for thread in threads:
                thread.join(60)
        changes = REPORTS + 2
        # Every watcher got every change once, in order.
        first = received[0][0]
        assert received == [list(range(first, first + changes + 1))] * WATCHERS
        # Before: each change woke every watcher to read (about WATCHERS * changes reads).
        assert len(statements) <= 3 * changes, len(statements)
