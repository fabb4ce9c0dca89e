"""What the streams promise: every change to every watcher, once, in order, across disconnects."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from tests.conftest import ServerFactory
from tests.support.factories import create_deployment, create_execution, start, stop
from tests.support.server import ServerThread
from tests.support.waiting import wait_for
from tests.support.watch import Follower, Watcher, channels
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import status_pb2 as spb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

ROOT = Path(__file__).resolve().parents[2]
WATCHERS = 1000
CHANGES = 200


def test_a_thousand_watchers_get_every_change_in_order(
    server: ServerThread, stub: TrackingServiceStub
) -> None:
    execution_id = create_execution(stub).execution_id
    watchers = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.watch_many",
            server.address,
            execution_id,
            str(WATCHERS),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert watchers.stdout is not None
    assert watchers.stdout.readline().strip() == "ready"
    start(stub, execution_id)
    for step in range(1, CHANGES - 1):
        stub.UpdateJobStatus(
            pb.UpdateJobStatusRequest(
                execution_id=execution_id, progress=pb.ProgressAction(progress=step / CHANGES)
            )
        )
    stop(stub, execution_id)
    output, _ = watchers.communicate(timeout=600)
    result = json.loads(output)
    assert result["errors"] == []
    assert len(result["revisions"]) == WATCHERS
    assert all(revisions == list(range(2, CHANGES + 2)) for revisions in result["revisions"])


async def _follow(address: str, execution_id: str, lines: int, followers: int) -> list[Follower]:
    pool = channels(address, followers + 1)
    writer = TrackingServiceStub(pool[0])
    group = [Follower() for _ in range(followers)]
    request = pb.StreamLogsRequest(execution_id=execution_id, follow=True)
    tasks = [
        asyncio.create_task(f.run(TrackingServiceStub(pool[i + 1]), request))
        for i, f in enumerate(group)
    ]
    await asyncio.gather(*(f.started.wait() for f in group))
    batch = 100
    for first in range(0, lines, batch):
        await writer.AppendLogs(
            pb.AppendLogsRequest(
                execution_id=execution_id,
                entries=[epb.LogEntry(message=f"line {n}") for n in range(first, first + batch)],
            )
        )
    await writer.UpdateJobStatus(
        pb.UpdateJobStatusRequest(
            execution_id=execution_id, stop=pb.StopAction(cause=spb.RUNNING_STATUS_SUCCESS)
        )
    )
    await asyncio.wait_for(asyncio.gather(*tasks), 300)
    for channel in pool:
        await channel.close(None)
    return group


def test_ten_followers_get_ten_thousand_lines_and_the_end(
    server: ServerThread, stub: TrackingServiceStub
) -> None:
    execution_id = create_execution(stub).execution_id
    start(stub, execution_id)
    group = asyncio.run(_follow(server.address, execution_id, 10_000, 10))
    expected = list(range(1, 10_001))
    assert all(f.seqs == expected for f in group)


def test_disconnected_watcher_resumes_with_exactly_what_it_missed(
    stub: TrackingServiceStub,
) -> None:
    execution_id = create_execution(stub).execution_id
    call = stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=30)
    assert next(call).event.snapshot
    seen: list[int] = []
    start(stub, execution_id)
    for response in call:
        if response.HasField("event") and not response.event.snapshot:
            seen.append(response.event.revision)
            break
    call.cancel()
    for step in range(5):
        stub.UpdateJobStatus(
            pb.UpdateJobStatusRequest(
                execution_id=execution_id, progress=pb.ProgressAction(progress=step / 10)
            )
        )
    stop(stub, execution_id)
    resumed = [
        r.event.revision
        for r in stub.WatchStatus(
            pb.WatchStatusRequest(execution_id=execution_id, after_revision=seen[-1]), timeout=30
        )
        if r.HasField("event")
    ]
    assert seen == [2]
    assert resumed == [3, 4, 5, 6, 7, 8]


async def _slow_and_fast(
    address: str, execution_id: str, changes: int
) -> tuple[Watcher, list[int], str]:
    (fast_channel,) = channels(address, 1)
    # Without BDP probing the transport window stays small, as for a client that stops reading.
    slow_channel = grpc.aio.insecure_channel(address, options=[("grpc.http2.bdp_probe", 0)])
    fast = Watcher()
    fast_task = asyncio.create_task(
        fast.run(
            TrackingServiceStub(fast_channel), pb.WatchStatusRequest(execution_id=execution_id)
        )
    )
    slow_call = TrackingServiceStub(slow_channel).WatchStatus(
        pb.WatchStatusRequest(execution_id=execution_id), timeout=300
    )
    snapshot = await slow_call.read()
    assert isinstance(snapshot, pb.WatchStatusResponse)
    assert snapshot.event.snapshot
    await fast.snapshot_seen.wait()
    writer = TrackingServiceStub(fast_channel)
    phase = "x" * 2000  # large events fill the slow watcher's transport window quickly
    await writer.UpdateJobStatus(
        pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
    )
    for step in range(changes - 2):
        await writer.UpdateJobStatus(
            pb.UpdateJobStatusRequest(
                execution_id=execution_id,
                progress=pb.ProgressAction(progress=step / changes, phase=f"{phase}{step}"),
            )
        )
    await writer.UpdateJobStatus(
        pb.UpdateJobStatusRequest(
            execution_id=execution_id, stop=pb.StopAction(cause=spb.RUNNING_STATUS_SUCCESS)
        )
    )
    await fast_task
    slow_revisions: list[int] = []
    code_and_details = ""
    try:
        while isinstance(response := await slow_call.read(), pb.WatchStatusResponse):
            if response.HasField("event"):
                slow_revisions.append(response.event.revision)
    except grpc.aio.AioRpcError as error:
        code_and_details = f"{error.code().name}: {error.details()}"
    await fast_channel.close(None)
    await slow_channel.close(None)
    return fast, slow_revisions, code_and_details


def test_a_watcher_that_stops_reading_is_closed_and_can_resume(make_server: ServerFactory) -> None:
    server = make_server(watcher_queue=8, heartbeat_seconds=30)
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        changes = 600
        fast, slow, ending = asyncio.run(_slow_and_fast(server.address, execution_id, changes))
        assert fast.error is None
        assert fast.revisions == list(range(2, changes + 2))
        assert ending.startswith("RESOURCE_EXHAUSTED"), ending
        cursor = slow[-1] if slow else 1
        assert f"after_revision={cursor}" in ending
        assert slow == list(range(2, cursor + 1))
        rest = [
            r.event.revision
            for r in stub.WatchStatus(
                pb.WatchStatusRequest(execution_id=execution_id, after_revision=cursor), timeout=60
            )
            if r.HasField("event")
        ]
        assert slow + rest == list(range(2, changes + 2))
        assert server.app is not None
        assert server.app.hub.watcher_count == 0


def test_watchers_of_a_caller_are_limited(make_server: ServerFactory) -> None:
    server = make_server(max_watchers_per_principal=2)
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        open_calls = [
            stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=30)
            for _ in range(2)
        ]
        for call in open_calls:
            assert next(call).event.snapshot
        with pytest.raises(grpc.RpcError) as caught:
            next(
                stub.StreamLogs(
                    pb.StreamLogsRequest(execution_id=execution_id, follow=True), timeout=30
                )
            )
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "2 open streams" in (caught.value.details() or "")
        start(stub, execution_id)
        for call in open_calls:
            event = next(r for r in call if r.HasField("event"))
            assert event.event.revision == 2
            call.cancel()


def test_clients_that_go_away_free_their_watchers(make_server: ServerFactory) -> None:
    server = make_server()
    assert server.app is not None
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        watches = [
            stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=30)
            for _ in range(20)
        ]
        follows = [
            stub.StreamLogs(
                pb.StreamLogsRequest(execution_id=execution_id, follow=True), timeout=30
            )
            for _ in range(5)
        ]
        for watch in watches:
            next(watch)
        assert server.app.hub.watcher_count >= 20
        for watch in watches:
            watch.cancel()
        for follow in follows:
            follow.cancel()
    hub = server.app.hub
    wait_for(lambda: hub.watcher_count == 0, "every cancelled stream to leave the hub")


def test_shutdown_ends_streams_with_unavailable(make_server: ServerFactory) -> None:
    server = make_server()
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = create_execution(stub).execution_id
        start(stub, execution_id)
        watch = stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=30)
        logs = stub.StreamLogs(
            pb.StreamLogsRequest(execution_id=execution_id, follow=True), timeout=30
        )
        assert next(watch).event.snapshot
        assert next(logs).HasField("heartbeat")
        server.stop(grace=5)
        for call in (watch, logs):
            with pytest.raises(grpc.RpcError) as caught:
                for _ in call:
                    pass
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_deployment_watch_across_the_retention_boundary(make_server: ServerFactory) -> None:
    server = make_server(retention_seconds=3600)
    assert server.app is not None
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        deployment = create_deployment(stub)
        execution_id = create_execution(stub, deployment_name=deployment.name).execution_id
        start(stub, execution_id)
        stub.AppendLogs(
            pb.AppendLogsRequest(execution_id=execution_id, entries=[epb.LogEntry(message="kept?")])
        )
        watch = stub.WatchStatus(pb.WatchStatusRequest(deployment_name=deployment.name), timeout=30)
        token = next(watch).event.resume_token
        watch.cancel()
        stop(stub, execution_id)
        result = server.run(server.app.retention.sweep(now=datetime.now(UTC) + timedelta(hours=2)))
        assert (result.executions, result.events, result.lines) == (1, 3, 1)
        refused: list[Callable[[], object]] = [
            lambda: next(
                iter(
                    stub.WatchStatus(
                        pb.WatchStatusRequest(execution_id=execution_id, after_revision=1),
                        timeout=30,
                    )
                )
            ),
            lambda: next(
                iter(
                    stub.WatchStatus(
                        pb.WatchStatusRequest(deployment_name=deployment.name, resume_token=token),
                        timeout=30,
                    )
                )
            ),
            lambda: next(
                iter(stub.StreamLogs(pb.StreamLogsRequest(execution_id=execution_id), timeout=30))
            ),
        ]
        for call in refused:
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "removed by retention" in (caught.value.details() or "")
        fresh = list(stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=30))
        assert [(r.event.snapshot, r.event.job_status.status) for r in fresh] == [
            (True, spb.RUNNING_STATUS_SUCCESS)
        ]
        assert (
            stub.GetExecution(
                pb.GetExecutionRequest(execution_id=execution_id)
            ).execution.job_status.revision
            == 3
        )
