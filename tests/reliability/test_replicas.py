"""Several servers on one PostgreSQL database behave as one service."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from sqlalchemy.engine import make_url

from tests.support.databases import postgres_database
from tests.support.factories import create_deployment, create_execution, start, stop
from tests.support.server import ServerThread
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_for
from tracking.service.domain.names import MAX_TEXT
from tracking.service.settings import Settings
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import status_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


@pytest.fixture
def replicas() -> Iterator[tuple[ServerThread, ServerThread]]:
    with postgres_database() as url:
        settings = Settings(address="127.0.0.1:0", database_url=url, heartbeat_seconds=0.5)
        a = ServerThread(settings).start()
        b = ServerThread(settings).start()
        yield a, b
        a.stop()
        b.stop()


def stubs(a: ServerThread, b: ServerThread) -> tuple[grpc.Channel, grpc.Channel]:
    return grpc.insecure_channel(a.address), grpc.insecure_channel(b.address)


def test_a_change_on_one_replica_reaches_watchers_on_another(
    replicas: tuple[ServerThread, ServerThread],
) -> None:
    a, b = replicas
    channel_a, channel_b = stubs(a, b)
    with channel_a, channel_b:
        on_a, on_b = TrackingServiceStub(channel_a), TrackingServiceStub(channel_b)
        deployment = create_deployment(on_a)
        execution_id = create_execution(on_a, deployment_name=deployment.name).execution_id
        watch = on_b.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=30)
        many = on_b.WatchStatus(pb.WatchStatusRequest(deployment_name=deployment.name), timeout=30)
        follow = on_b.StreamLogs(
            pb.StreamLogsRequest(execution_id=execution_id, follow=True), timeout=30
        )
        assert next(watch).event.snapshot
        assert next(many).event.snapshot
        assert next(follow).HasField("heartbeat")
        start(on_a, execution_id)
        on_a.AppendLogs(
            pb.AppendLogsRequest(
                execution_id=execution_id, entries=[epb.LogEntry(message="from a")]
            )
        )
        stop(on_a, execution_id)
        assert [r.event.revision for r in watch if r.HasField("event")] == [2, 3]
        assert [m.message for r in follow for m in r.entries] == ["from a"]
        events = []
        for response in many:
            if response.HasField("event"):
                events.append(response.event.revision)
            if len(events) == 2:
                many.cancel()
                break
        assert events == [2, 3]


def test_watchers_on_another_replica_are_handed_every_event_in_order(
    replicas: tuple[ServerThread, ServerThread],
) -> None:
    a, b = replicas
    assert b.app is not None
    hub_b = b.app.hub
    channel_a, channel_b = stubs(a, b)
    with channel_a, channel_b:
        on_a, on_b = TrackingServiceStub(channel_a), TrackingServiceStub(channel_b)
        deployment = create_deployment(on_a)
        execution_id = create_execution(on_a, deployment_name=deployment.name).execution_id
        watches = [
            on_b.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=60)
            for _ in range(4)
        ]
        many = on_b.WatchStatus(pb.WatchStatusRequest(deployment_name=deployment.name), timeout=60)
        for stream in [*watches, many]:
            assert next(stream).event.snapshot
        handed_before = hub_b.events_fanned_out

        def progress(value: float, phase: str) -> pb.UpdateJobStatusRequest:
            return pb.UpdateJobStatusRequest(
                execution_id=execution_id, progress=pb.ProgressAction(progress=value, phase=phase)
            )

        start(on_a, execution_id)
        for step in range(5):
            on_a.UpdateJobStatus(progress(step / 10, f"step {step} | of 5"))
        # Sent together, they share group commits: one NOTIFY statement carries several.
        together = [on_a.UpdateJobStatus.future(progress(0.5, f"together {i}")) for i in range(8)]
        for future in together:
            future.result(timeout=30)
        # Too large for a NOTIFY payload: announced as a wake-up, read from the table.
        large = "é" * MAX_TEXT
        on_a.UpdateJobStatus(progress(0.9, large))
        on_a.UpdateJobStatus(progress(0.95, "after the large one"))
        stop(on_a, execution_id, status_pb2.RUNNING_STATUS_ERROR, "m" * MAX_TEXT)  # carried

        def seen(events: list[epb.ExecutionEvent]) -> list[tuple[int, str, float, str]]:
            return [
                (e.revision, e.job_status.phase, e.job_status.progress, e.job_status.stop_message)
                for e in events
            ]

        # What the table holds, read through A.
        table = seen(
            [
                r.event
                for r in on_a.WatchStatus(
                    pb.WatchStatusRequest(execution_id=execution_id, after_revision=1), timeout=30
                )
                if r.HasField("event")
            ]
        )
        assert [revision for revision, *_ in table] == list(range(2, 19))
        assert table[-3][1] == large
        assert table[-1][3] == "m" * MAX_TEXT
        for watch in watches:
            assert seen([r.event for r in watch if r.HasField("event")]) == table
        followed: list[epb.ExecutionEvent] = []
        for response in many:
            if response.HasField("event"):
                followed.append(response.event)
            if followed and followed[-1].revision == 18:
                many.cancel()
                break
        assert seen(followed) == table
        # Every change but the large one reached B's watchers in its announcement, without a
        # read of the table (the creation, announced before they watched, may have too).
        assert hub_b.events_fanned_out - handed_before >= len(watches) * (len(table) - 1)


def test_a_change_committed_while_a_replica_cannot_listen_is_read_when_it_listens_again() -> None:
    # B reaches PostgreSQL through a proxy the test cuts: while it is cut, B certainly hears
    # no NOTIFY, so the change A commits then can only reach B's watcher by the read of the
    # gap that follows B's reconnect.
    with postgres_database() as url:
        parsed = make_url(url)
        proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432).start()
        through_proxy = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        a = ServerThread(Settings(address="127.0.0.1:0", database_url=url)).start()
        b = ServerThread(
            Settings(address="127.0.0.1:0", database_url=through_proxy, heartbeat_seconds=0.5)
        ).start()
        try:
            assert b.app is not None
            assert b.app.bridge is not None
            bridge = b.app.bridge
            channel_a, channel_b = stubs(a, b)
            with channel_a, channel_b:
                on_a, on_b = TrackingServiceStub(channel_a), TrackingServiceStub(channel_b)
                execution_id = create_execution(on_a).execution_id
                watch = on_b.WatchStatus(
                    pb.WatchStatusRequest(execution_id=execution_id), timeout=60
                )
                assert next(watch).event.snapshot
                # A heartbeat: B's watcher read its gap and waits on the hub, off the database.
                assert next(watch).HasField("heartbeat")
                proxy.cut()
                start(on_a, execution_id)  # committed while B cannot listen
                proxy.restore()
                wait_for(lambda: bridge.reconnects >= 1, "B to listen again")
                events = (r.event for r in watch if r.HasField("event"))
                assert next(events).revision == 2  # read from the table, not notified
                stop(on_a, execution_id)
                assert [event.revision for event in events] == [3]
        finally:
            proxy.restore()
            a.stop()
            b.stop()
            proxy.stop()


def test_a_deployment_log_stream_on_one_replica_hears_the_other(
    replicas: tuple[ServerThread, ServerThread],
) -> None:
    a, b = replicas
    channel_a, channel_b = stubs(a, b)
    with channel_a, channel_b:
        on_a, on_b = TrackingServiceStub(channel_a), TrackingServiceStub(channel_b)
        deployment = create_deployment(on_a)
        follow = on_b.StreamLogs(
            pb.StreamLogsRequest(deployment_name=deployment.name, follow=True), timeout=30
        )
        assert next(follow).HasField("heartbeat")
        execution_id = create_execution(on_a, deployment_name=deployment.name).execution_id
        start(on_a, execution_id)
        on_a.AppendLogs(
            pb.AppendLogsRequest(
                execution_id=execution_id, entries=[epb.LogEntry(message="from a")]
            )
        )
        received = next(r for r in follow if r.entries)
        assert [(e.execution_id, e.message) for e in received.entries] == [(execution_id, "from a")]
        on_a.DeleteDeployment(pb.DeleteDeploymentRequest(name=deployment.name))
        assert [r for r in follow if r.entries] == []


def test_deleting_an_empty_deployment_ends_its_log_streams_on_every_replica(
    replicas: tuple[ServerThread, ServerThread],
) -> None:
    a, b = replicas
    channel_a, channel_b = stubs(a, b)
    with channel_a, channel_b:
        on_a, on_b = TrackingServiceStub(channel_a), TrackingServiceStub(channel_b)
        deployment = create_deployment(on_a)
        follow = on_b.StreamLogs(
            pb.StreamLogsRequest(deployment_name=deployment.name, follow=True), timeout=30
        )
        assert next(follow).HasField("heartbeat")
        on_a.DeleteDeployment(pb.DeleteDeploymentRequest(name=deployment.name))
        assert [r for r in follow if r.entries] == []  # ends with OK, no event to wake it
