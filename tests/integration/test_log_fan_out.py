"""What a change costs the streams that follow an execution's logs: a progress report or
any other change that does not end the execution reaches none of them, so many followers
cost the database nothing per report; lines and the end reach every one."""

from __future__ import annotations

import threading

import grpc

from tests.conftest import ServerFactory
from tests.support.factories import act, create_execution, start, stop
from tests.support.statements import counted_reads
from tests.support.waiting import wait_for
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

FOLLOWERS = 20
REPORTS = 30


def test_progress_reports_cost_log_followers_no_read(make_server: ServerFactory) -> None:
    server = make_server()
    assert server.app is not None
    hub, engine = server.app.hub, server.app.database.read_engine
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        start(stub, execution_id)
        received: list[list[str]] = [[] for _ in range(FOLLOWERS)]

        def follow(lines: list[str]) -> None:
            request = pb.StreamLogsRequest(execution_id=execution_id, follow=True)
            for response in stub.StreamLogs(request, timeout=120):
                lines.extend(entry.message for entry in response.entries)

        threads = [threading.Thread(target=follow, args=(lines,)) for lines in received]
        for thread in threads:
            thread.start()
        wait_for(lambda: hub.watcher_count == FOLLOWERS, "every follower to subscribe")
        with counted_reads(engine, "log_lines") as statements:
            for turn in range(REPORTS):
                act(stub, execution_id, progress=pb.ProgressAction(progress=turn / REPORTS))
            entries = [epb.LogEntry(message="after the reports")]
            stub.AppendLogs(pb.AppendLogsRequest(execution_id=execution_id, entries=entries))
            wait_for(lambda: all(received), "every follower to get the line")
        # For the line, each follower reads the line and that no line follows (again when
        # a second wake-up comes while it reads); the reports cost the followers nothing
        # (before: each report woke every follower to read, 357 reads here on SQLite).
        assert len(statements) <= 5 * FOLLOWERS, len(statements)
        stop(stub, execution_id)
        for thread in threads:
            thread.join(60)
        assert received == [["after the reports"]] * FOLLOWERS
