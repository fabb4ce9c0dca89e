"""Chaos for streams: clients that stop reading, clients that vanish, and what cycles of
stream opens and cancels leave behind in the server's memory.

Short by default; TRACKING_CHAOS=full (make chaos) runs them at full size.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from tests.support.allocator import image_allocator
from tests.support.chaos import (
    FULL,
    SCALE,
    WatcherProcess,
    Writer,
    account,
    free_address,
    prepare,
    read_truth,
    rss_kib,
    scrape,
    watchers,
)
from tests.support.process import ServerProcess
from tests.support.waiting import wait_for
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

if TYPE_CHECKING:  # in the type stubs only: TrackingServiceStub of a grpc.aio channel
    from tracking.v1.tracking_service_pb2_grpc import TrackingServiceAsyncStub

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(3600 if FULL else 300)]
if FULL:
    pytestmark.append(pytest.mark.slow)

EXECUTIONS = 4
QUEUE = 8  # events a watcher may fall behind before the server closes it
VANISHING = 20  # watchers per vanishing client, plus one log follower per execution
STUCK_CLOSED = 'tracking_rpc_total{code="RESOURCE_EXHAUSTED",method="WatchStatus"}'


def test_stuck_and_vanishing_clients_leave_the_others_unaffected(
    backend: str, fresh_database: str
) -> None:
    began = time.monotonic()
    address, metrics = free_address(), free_address()
    server = ServerProcess(
        fresh_database,
        address,
        TRACKING_WATCHER_QUEUE=str(QUEUE),
        TRACKING_METRICS_ADDRESS=metrics,
    ).start()

    def open_watchers() -> int:
        return int(scrape(metrics, "tracking_open_watchers"))

    def closed_stuck() -> int:
        """Stuck watchers the server closed for falling a full queue behind (a paused
        client does not open them again)."""
        return int(scrape(metrics, STUCK_CLOSED, default=0))

    def streams() -> int:
        """Open watchers, a stuck one the server closed counted as still there: when the
        writer has filled their windows and queues depends on its pace, not on the
        vanishing clients, which are what the rounds count."""
        return open_watchers() + closed_stuck()

    try:
        deployment, executions = prepare(address, EXECUTIONS)
        scope = {"address": address, "executions": executions, "deployment": deployment}
        with (
            watchers(**scope, count=max(10, SCALE.watchers // 5), every=5) as healthy,
            # Stop reading after the snapshot, with a window that stays small (no BDP probes).
            watchers(**scope, count=EXECUTIONS, paused=True, bdp=False) as stuck,
        ):
            baseline = streams()
            # Large events fill the stuck clients' HTTP/2 windows after a few changes.
            writer = Writer(address, executions, phase_size=3000).start()
            peak = baseline
            for _ in range(SCALE.vanish_rounds):
                vanishing = WatcherProcess(**scope, count=VANISHING, every=5, followers=1)
                vanishing.wait_ready()
                wait_for(
                    lambda: streams() >= baseline + VANISHING + EXECUTIONS,
                    "the vanishing client's streams",
                )
                peak = max(peak, open_watchers())
                vanishing.kill()  # SIGKILL while streaming
                wait_for(lambda: streams() == baseline, "open watchers back to baseline")
            # The stuck watchers' queues are full: the server has closed them.
            wait_for(
                lambda: closed_stuck() == EXECUTIONS,
                "every stuck watcher to fall a full queue behind and be closed",
            )
            writer.wait_acknowledged(EXECUTIONS * QUEUE)
            stuck.go()
            writer.finish()
            healthy_report, stuck_report = healthy.result(), stuck.result()
        after = open_watchers()
        truth = read_truth(address, executions)
    finally:
        server.kill()
    figures = account(truth, writer.acknowledged, healthy_report, stuck_report)
    figures.failed_writes = dict(writer.failed)
    stuck_closed = stuck_report["reconnects"].get("RESOURCE_EXHAUSTED", 0)
    print(
        "\n"
        + figures.line(
            f"stuck and vanishing clients {backend}",
            vanished=SCALE.vanish_rounds * (VANISHING + EXECUTIONS),
            open_watchers=f"{baseline}/{peak}/{after}",
            stuck_closed=stuck_closed,
            healthy_reconnects=sum(healthy_report["reconnects"].values()),
            seconds=f"{time.monotonic() - began:.1f}",
        ),
        flush=True,
    )
    assert figures.errors == []
    assert figures.clean, figures
    assert healthy_report["reconnects"] == {}
    assert stuck_closed == EXECUTIONS
    assert after == 0


async def _cycles(address: str, deployment: str, execution_id: str, count: int) -> None:
    """Open a stream, read its first message, cancel it; `count` times over a few clients."""
    pool = [
        grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(8)
    ]
    stubs = [TrackingServiceStub(channel) for channel in pool]
    left = iter(range(count))

    async def run(stub: TrackingServiceAsyncStub) -> None:
        for n in left:
            call: grpc.aio.UnaryStreamCall[Any, Any]
            if n % 3 == 0:
                call = stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id))
            elif n % 3 == 1:
                call = stub.WatchStatus(pb.WatchStatusRequest(deployment_name=deployment))
            else:
                call = stub.StreamLogs(pb.StreamLogsRequest(execution_id=execution_id, follow=True))
            await call.read()
            call.cancel()

    await asyncio.gather(*(run(stub) for stub in stubs))
    for channel in pool:
        await channel.close(None)


def test_server_memory_after_stream_open_cancel_cycles(backend: str, fresh_database: str) -> None:
    # With jemalloc, as the image runs the server: glibc's heap grows with these cycles on
    # PostgreSQL (fragments, not objects: the live objects stay as many), which would hide
    # what this looks for, something each stream leaves behind.
    allocator = image_allocator()
    began = time.monotonic()
    address, metrics = free_address(), free_address()
    server = ServerProcess(
        fresh_database, address, TRACKING_METRICS_ADDRESS=metrics, **allocator
    ).start()
    assert server.process is not None
    try:
        deployment, (execution_id,) = prepare(address, 1)
        with grpc.insecure_channel(address) as channel:
            # A line to send at once, so each StreamLogs has a first message without waiting.
            TrackingServiceStub(channel).AppendLogs(
                pb.AppendLogsRequest(
                    execution_id=execution_id, entries=[epb.LogEntry(message="first")]
                )
            )
        settled = lambda: scrape(metrics, "tracking_open_watchers") == 0  # noqa: E731
        asyncio.run(_cycles(address, deployment, execution_id, max(200, SCALE.cycles // 5)))
        wait_for(settled, "every cancelled stream to be closed")
        before = rss_kib(server.process.pid)
        asyncio.run(_cycles(address, deployment, execution_id, SCALE.cycles))
        wait_for(settled, "every cancelled stream to be closed")
        after = rss_kib(server.process.pid)
    finally:
        server.kill()
    growth = (after - before) / before
    print(
        f"\nCHAOS stream open/cancel {backend}: cycles={SCALE.cycles}"
        f" server RSS before={before} KiB after={after} KiB growth={growth:+.2%}"
        f" seconds={time.monotonic() - began:.1f}",
        flush=True,
    )
    assert growth < 0.05
