"""The server behind Debian's nginx, run with the configuration deploy/nginx/nginx.conf ships:
it passes `nginx -t`, many streams share a client's connection, and heartbeats keep quiet
streams open through a proxy's idle timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from tests.support.chaos import free_address
from tests.support.http import events
from tests.support.nginx import check, nginx, require_nginx
from tests.support.server import ServerThread
from tests.support.waiting import HANG_GUARD
from tracking.client import AsyncTrackingClient, TrackingClient
from tracking.service.settings import Settings
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

SHORT_TIMEOUTS = {
    name: "2s"
    for name in (
        "grpc_read_timeout",
        "grpc_send_timeout",
        "client_body_timeout",
        "keepalive_timeout",
        "proxy_read_timeout",
        "proxy_send_timeout",
    )
}


def start_server(tmp_path: Path, heartbeat_seconds: float) -> ServerThread:
    return ServerThread(
        Settings(
            address="127.0.0.1:0",
            http_address="127.0.0.1:0",
            database_url=f"sqlite:///{tmp_path}/tracking-{heartbeat_seconds}.db",
            heartbeat_seconds=heartbeat_seconds,
        )
    ).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    require_nginx()
    started = start_server(tmp_path_factory.mktemp("nginx"), heartbeat_seconds=0.5)
    yield started
    started.stop()


def http_address(server: ServerThread) -> str:
    return server.http_url.removeprefix("http://")


def test_the_shipped_configuration_passes_nginx_t(server: ServerThread) -> None:
    result = check(free_address(), free_address(), [server.address], [http_address(server)])
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "[warn]" not in result.stderr, result.stderr


async def snapshots_and_one_change(
    address: str, clients: list[AsyncTrackingClient], per_client: int
) -> int:
    """Watch one execution `per_client` times on each client; once every watch has its
    snapshot, start the execution (through `address`); how many watches saw the change."""
    with TrackingClient(address) as writer:
        execution_id = writer.create_execution(pipeline_name="nginx").execution_id
        streams = [
            client.watch_status(execution_id=execution_id)
            for client in clients
            for _ in range(per_client)
        ]
        firsts = await asyncio.gather(*(anext(stream) for stream in streams))
        assert all(first.event.snapshot for first in firsts)
        writer.start(execution_id)

    async def change(stream: object) -> int:
        async for response in stream:  # type: ignore[attr-defined]
            if response.HasField("event"):
                return int(response.event.revision)
        return 0

    revisions = await asyncio.gather(*(change(stream) for stream in streams))
    for stream in streams:
        await stream.aclose()
    return sum(1 for revision in revisions if revision == 2)


async def test_150_watchers_on_one_client_through_nginx_all_follow(server: ServerThread) -> None:
    # nginx's own default (128 streams per HTTP/2 connection) would hold the last 22 back,
    # waiting with no error; the shipped configuration allows what the server allows.
    grpc_listen = free_address()
    with nginx(grpc_listen, free_address(), [server.address], [http_address(server)]):
        client = AsyncTrackingClient(grpc_listen)
        try:
            received = await asyncio.wait_for(
                snapshots_and_one_change(grpc_listen, [client], 150), HANG_GUARD
            )
        finally:
            await client.close()
    assert received == 150


async def test_clients_in_one_process_do_not_share_a_connection_behind_nginx_defaults(
    server: ServerThread,
) -> None:
    # Two clients of 100 watchers each behind nginx's default limit of 128 streams per
    # connection: on one shared connection the last 72 would wait forever, with no error.
    grpc_listen = free_address()
    with nginx(
        grpc_listen,
        free_address(),
        [server.address],
        [http_address(server)],
        {"http2_max_concurrent_streams": "128"},
    ):
        clients = [AsyncTrackingClient(grpc_listen) for _ in range(2)]
        try:
            received = await asyncio.wait_for(
                snapshots_and_one_change(grpc_listen, clients, 100), HANG_GUARD
            )
        finally:
            for client in clients:
                await client.close()
    assert received == 200


def watch_through(
    grpc_listen: str, http_listen: str, execution_id: str, heartbeats: int
) -> tuple[list[str], list[str]]:
    """A gRPC watch and an SSE follow of one execution through nginx: wait for `heartbeats`
    heartbeats on each, then start the execution; what each stream then showed."""
    seen_grpc: list[str] = []
    seen_sse: list[str] = []
    url = f"http://{http_listen}/events/WatchStatus?execution_id={execution_id}"
    with (
        grpc.insecure_channel(grpc_listen) as channel,
        httpx.stream("GET", url, timeout=HANG_GUARD) as sse,
    ):
        watch = TrackingServiceStub(channel).WatchStatus(
            pb.WatchStatusRequest(execution_id=execution_id), timeout=HANG_GUARD
        )
        assert next(watch).event.snapshot
        assert sse.status_code == 200
        lines = sse.iter_lines()
        assert next(events(lines)).data["event"]["snapshot"]
        try:
            while len(seen_grpc) < heartbeats:
                response = next(watch)
                seen_grpc.append("heartbeat" if response.HasField("heartbeat") else "event")
        except grpc.RpcError as error:
            seen_grpc.append(f"ended: {error.code().name}")
        try:
            while len(seen_sse) < heartbeats:
                line = next(lines)
                if line:
                    seen_sse.append("heartbeat" if line.startswith(": heartbeat") else line)
        except (httpx.HTTPError, StopIteration) as error:
            seen_sse.append(f"ended: {type(error).__name__}")
        if seen_grpc[-1].startswith("ended") or seen_sse[-1].startswith("ended"):
            return seen_grpc, seen_sse
        with TrackingClient(grpc_listen) as client:
            client.start(execution_id)
        seen_grpc.append(f"revision {next(r for r in watch if r.HasField('event')).event.revision}")
        seen_sse.append(f"revision {next(events(lines)).data['event']['revision']}")
        watch.cancel()
    return seen_grpc, seen_sse


def test_heartbeats_keep_streams_open_through_short_proxy_timeouts(server: ServerThread) -> None:
    # nginx closes a stream quiet for 2 s; the server's heartbeat every 0.5 s keeps both the
    # gRPC watch and the SSE follow open for 5 s and more, and the change then arrives on them.
    grpc_listen, http_listen = free_address(), free_address()
    with nginx(grpc_listen, http_listen, [server.address], [http_address(server)], SHORT_TIMEOUTS):
        with TrackingClient(grpc_listen) as client:
            execution_id = client.create_execution(pipeline_name="idle").execution_id
        seen_grpc, seen_sse = watch_through(grpc_listen, http_listen, execution_id, 10)
    assert seen_grpc == ["heartbeat"] * 10 + ["revision 2"]
    assert seen_sse == ["heartbeat"] * 10 + ["revision 2"]


def test_without_heartbeats_short_proxy_timeouts_end_the_streams(tmp_path: Path) -> None:
    # The same nginx in front of a server whose heartbeat (30 s) is longer than its timeouts:
    # the quiet streams are cut, which is what the heartbeats above prevent.
    require_nginx()
    quiet = start_server(tmp_path, heartbeat_seconds=30)
    try:
        grpc_listen, http_listen = free_address(), free_address()
        with nginx(
            grpc_listen, http_listen, [quiet.address], [http_address(quiet)], SHORT_TIMEOUTS
        ):
            with TrackingClient(grpc_listen) as client:
                execution_id = client.create_execution(pipeline_name="quiet").execution_id
            seen_grpc, seen_sse = watch_through(grpc_listen, http_listen, execution_id, 1)
    finally:
        quiet.stop()
    # nginx resets the HTTP/2 stream (gRPC reads it as INTERNAL) and closes the SSE response.
    assert seen_grpc == ["ended: INTERNAL"]
    assert seen_sse == ["ended: RemoteProtocolError"]


def test_the_trace_context_a_caller_sends_passes_through_nginx(server: ServerThread) -> None:
    # The execution keeps the traceparent its creator sent, with tracing on or off: through
    # nginx it must arrive as sent, as gRPC metadata and as an HTTP header.
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    grpc_listen, http_listen = free_address(), free_address()
    with nginx(grpc_listen, http_listen, [server.address], [http_address(server)]):
        with grpc.insecure_channel(grpc_listen) as channel:
            over_grpc = (
                TrackingServiceStub(channel)
                .CreateExecution(
                    pb.CreateExecutionRequest(execution=epb.Execution(job_name="traced")),
                    metadata=(("traceparent", traceparent),),
                    timeout=30,
                )
                .execution
            )
        over_http = httpx.post(
            f"http://{http_listen}/tracking.v1.TrackingService/CreateExecution",
            json={"execution": {"jobName": "traced"}},
            headers={"traceparent": traceparent},
            timeout=30,
        )
    assert over_grpc.trace_parent == traceparent
    assert over_http.status_code == 200, over_http.text
    assert over_http.json()["execution"]["traceParent"] == traceparent
