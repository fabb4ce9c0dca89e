"""Several servers on one PostgreSQL database behave as one service."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import grpc
import pytest

from tests.support.databases import POSTGRES_URL, postgres_database
from tests.support.factories import create_deployment, create_execution, start, stop
from tests.support.server import ServerThread
from tracking.service.settings import Settings
from tracking.v1 import execution_pb2 as epb
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


async def _terminate_listeners() -> int:
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        rows = await connection.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"
        )
        return len(rows)
    finally:
        await connection.close()


def test_a_lost_notification_connection_is_reopened_and_the_gap_read(
    replicas: tuple[ServerThread, ServerThread],
) -> None:
    a, b = replicas
    assert b.app is not None
    assert b.app.bridge is not None
    channel_a, channel_b = stubs(a, b)
    with channel_a, channel_b:
        on_a, on_b = TrackingServiceStub(channel_a), TrackingServiceStub(channel_b)
        execution_id = create_execution(on_a).execution_id
        watch = on_b.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=60)
        assert next(watch).event.snapshot
        assert asyncio.run(_terminate_listeners()) >= 2
        start(on_a, execution_id)  # may commit while B does not listen
        bridge = b.app.bridge
        for _ in range(600):
            if bridge.reconnects >= 1:
                break
            b.run(asyncio.sleep(0.05))
        assert bridge.reconnects >= 1
        stop(on_a, execution_id)
        assert [r.event.revision for r in watch if r.HasField("event")] == [2, 3]


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
