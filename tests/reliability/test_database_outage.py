"""Losing PostgreSQL is UNAVAILABLE, not INTERNAL: reads are retried, streams resume."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
from sqlalchemy.engine import make_url

from tests.support.databases import postgres_database
from tests.support.factories import create_execution, new_token, start
from tests.support.server import ServerThread
from tests.support.tcp_proxy import TcpProxy
from tracking.client import RetryPolicy, TrackingClient
from tracking.service.settings import Settings
from tracking.v1 import status_pb2 as spb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

pytestmark = pytest.mark.postgres


@contextmanager
def proxied_server(**settings: Any) -> Iterator[tuple[ServerThread, TcpProxy]]:
    """A server whose PostgreSQL connections all go through a proxy the test can cut."""
    with postgres_database() as url:
        parsed = make_url(url)
        proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432).start()
        proxied = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        server = ServerThread(
            Settings(address="127.0.0.1:0", database_url=proxied, heartbeat_seconds=0.5, **settings)
        ).start()
        yield server, proxy
        proxy.restore()
        server.stop()
        proxy.stop()


@pytest.fixture
def behind_proxy() -> Iterator[tuple[ServerThread, TcpProxy]]:
    with proxied_server() as pair:
        yield pair


def _code(call: grpc.Future[object]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call.result()
    return caught.value.code()


def test_calls_during_a_database_outage_are_unavailable_and_a_watch_resumes_after_it(
    behind_proxy: tuple[ServerThread, TcpProxy],
) -> None:
    server, proxy = behind_proxy
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        start(stub, execution_id)
        proxy.cut()
        codes = {
            "read": _code(
                stub.GetExecution.future(pb.GetExecutionRequest(execution_id=execution_id))
            ),
            "write": _code(
                stub.UpdateJobStatus.future(
                    pb.UpdateJobStatusRequest(
                        execution_id=execution_id, progress=pb.ProgressAction(progress=0.5)
                    )
                )
            ),
            "watch": _code(
                stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=30)
            ),
        }
        assert codes == dict.fromkeys(codes, grpc.StatusCode.UNAVAILABLE)

        revisions: list[int] = []
        retry = RetryPolicy(max_attempts=1000, initial_backoff=0.05, max_backoff=0.2)
        with TrackingClient(server.address, retry=retry) as client:
            watching = threading.Thread(
                target=lambda: revisions.extend(
                    e.revision
                    for e in client.watch(execution_id=execution_id, after_revision=2, timeout=120)
                )
            )
            watching.start()  # refused while the database is away, opened again once it is back
            proxy.restore()
            stub.UpdateJobStatus(
                pb.UpdateJobStatusRequest(
                    execution_id=execution_id, progress=pb.ProgressAction(progress=0.7)
                ),
                timeout=30,
            )
            stub.UpdateJobStatus(
                pb.UpdateJobStatusRequest(
                    execution_id=execution_id, stop=pb.StopAction(cause=spb.RUNNING_STATUS_SUCCESS)
                ),
                timeout=30,
            )
            watching.join(120)
    assert revisions == [3, 4]


def test_a_token_that_cannot_be_checked_during_an_outage_is_unavailable() -> None:
    with proxied_server(auth="on", token_cache_seconds=0) as (server, proxy):
        _, secret = new_token(server, "READER")
        metadata = (("authorization", f"Bearer {secret}"),)
        with grpc.insecure_channel(server.address) as channel:
            stub = TrackingServiceStub(channel)
            request = pb.ListExecutionsRequest()
            stub.ListExecutions(request, metadata=metadata)
            proxy.cut()
            with pytest.raises(grpc.RpcError) as caught:
                stub.ListExecutions(request, metadata=metadata, timeout=30)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "cannot check the token" in (caught.value.details() or "")
            proxy.restore()
            assert stub.ListExecutions(request, metadata=metadata, timeout=30) is not None


def test_reads_succeed_at_once_when_the_database_is_back(
    behind_proxy: tuple[ServerThread, TcpProxy],
) -> None:
    """The connections a read pool held when the database went away are not handed to the
    first reads once it is back: those reads succeed, none is UNAVAILABLE."""
    server, proxy = behind_proxy
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        reads = (
            lambda: stub.GetJobStatus(pb.GetJobStatusRequest(execution_id=execution_id)),
            lambda: stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id)),
            lambda: stub.ListExecutions(pb.ListExecutionsRequest()),
        )
        for read in reads:
            read()  # the pool now holds open connections
        proxy.cut()
        proxy.restore()
        for read in reads:
            read()
