"""watch() and follow_logs() against the real server, on each database: they resume by
themselves across a server restart and after the server closed a watcher that fell behind,
yield every revision and every seq exactly once, in order, and raise at once what no
reconnect can fix.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, asynccontextmanager, closing, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from tests.conftest import ServerFactory
from tests.support.factories import unique
from tests.support.server import ServerThread
from tracking.client import (
    NO_RETRY,
    AsyncTrackingClient,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RetryPolicy,
    TrackingClient,
    Unavailable,
)
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import status_pb2 as spb

STREAM_TIMEOUT = 60.0  # bounds each whole iteration, reconnects included
WAIT = 60.0  # bound of every wait on another thread
SUCCESS = spb.RUNNING_STATUS_SUCCESS
# A connection of its own per client (channels share connections by default), and a short
# reconnect backoff of the channel itself, so a restarted server is reached again soon.
OPTIONS = (
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 200),
)


def restart(stopped: ServerThread) -> ServerThread:
    """A new server on the database and the port of a stopped one."""
    settings = stopped.settings.model_copy(update={"address": f"127.0.0.1:{stopped.port}"})
    return ServerThread(settings).start()


@contextmanager
def restarted(stopped: ServerThread) -> Iterator[ServerThread]:
    server = restart(stopped)
    try:
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def async_restarted(stopped: ServerThread) -> AsyncIterator[ServerThread]:
    server = await asyncio.to_thread(restart, stopped)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


def client(address: str, retry: RetryPolicy = NO_RETRY) -> TrackingClient:
    return TrackingClient(address, options=OPTIONS, retry=retry)


def async_client(address: str, retry: RetryPolicy = NO_RETRY) -> AsyncTrackingClient:
    return AsyncTrackingClient(address, options=OPTIONS, retry=retry)


class Sleeps(list[float]):
    """Backoffs a RetryPolicy asked for; sleeps them for real (they are kept short)."""

    def sleep(self, delay: float) -> None:
        self.append(delay)
        time.sleep(delay)

    async def async_sleep(self, delay: float) -> None:
        self.append(delay)
        await asyncio.sleep(delay)

    def policy(self, max_attempts: int = 1000) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=max_attempts,
            initial_backoff=0.02,
            max_backoff=0.2,
            sleep=self.sleep,
            async_sleep=self.async_sleep,
        )


def assert_down(address: str) -> None:
    """Nothing can change while the server is down."""
    with client(address) as probe, pytest.raises(Unavailable):
        probe.create_execution(pipeline_name="train")


def revisions(events: list[epb.ExecutionEvent]) -> list[int]:
    return [e.revision for e in events]


def one_each(events: list[epb.ExecutionEvent], last: int) -> None:
    """A snapshot at revision 1, then every revision up to `last`, once each, in order."""
    assert events[0].snapshot
    assert not any(e.snapshot for e in events[1:])
    assert revisions(events) == list(range(1, last + 1))


# Restart


def test_watch_resumes_across_a_restart(make_server: ServerFactory) -> None:
    first = make_server()
    sleeps = Sleeps()
    with client(first.address, sleeps.policy()) as watcher, client(first.address) as worker:
        execution_id = worker.create_execution(pipeline_name="train").execution_id
        watch = watcher.watch(execution_id=execution_id, timeout=STREAM_TIMEOUT)
        with closing(watch):
            events = [next(watch)]
            worker.start(execution_id)
            worker.update_progress(execution_id, 0.1)
            events += [next(watch), next(watch)]
            first.stop(grace=1)  # the open stream ends with UNAVAILABLE
            assert_down(first.address)
            with restarted(first) as second, client(second.address) as worker2:
                for step in range(2, 6):
                    worker2.update_progress(execution_id, step / 10)
                worker2.stop(execution_id, SUCCESS)
                events += list(watch)  # reconnects by itself, ends after the terminal event
    one_each(events, 8)
    assert events[-1].job_status.status == SUCCESS
    assert sleeps  # it did reconnect


def test_follow_logs_resumes_across_a_restart_while_waiting(make_server: ServerFactory) -> None:
    first = make_server()
    sleeps = Sleeps()
    retried = threading.Event()
    entries: list[epb.LogEntry] = []
    got = threading.Semaphore(0)

    def sleep(delay: float) -> None:
        if len(sleeps) >= 2:  # tried at least twice while the server was down
            retried.set()
        sleeps.sleep(delay)

    policy = RetryPolicy(max_attempts=1000, initial_backoff=0.02, max_backoff=0.2, sleep=sleep)

    def follow(address: str, execution_id: str) -> None:
        with client(address, policy) as follower:
            for entry in follower.follow_logs(execution_id, timeout=STREAM_TIMEOUT):
                entries.append(entry)
                got.release()

    with client(first.address) as worker:
        execution_id = worker.create_execution(pipeline_name="train").execution_id
        worker.start(execution_id)
        worker.append_logs(execution_id, ["a1", "a2"])
    consumer = threading.Thread(target=follow, args=(first.address, execution_id), daemon=True)
    consumer.start()
    with client(first.address) as worker:
        worker.append_logs(execution_id, ["a3"])
    for _ in range(3):
        assert got.acquire(timeout=WAIT)
    first.stop(grace=1)
    assert_down(first.address)
    assert retried.wait(WAIT)  # the follower keeps trying while the server is down
    with restarted(first) as second:
        with client(second.address) as worker:
            worker.append_logs(execution_id, ["b1", "b2"])
            worker.append_logs(execution_id, ["b3"])
            worker.stop(execution_id, SUCCESS)
        consumer.join(WAIT)
        assert not consumer.is_alive()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert [e.message for e in entries] == ["a1", "a2", "a3", "b1", "b2", "b3"]


def test_deployment_watch_resumes_across_a_restart(make_server: ServerFactory) -> None:
    first = make_server()
    sleeps = Sleeps()
    deployment = unique("dep")
    seen: list[tuple[str, int]] = []
    with client(first.address, sleeps.policy()) as watcher, client(first.address) as worker:
        worker.create_deployment(deployment, "train", "endpoint")
        a = worker.create_execution(deployment_name=deployment).execution_id
        watch = watcher.watch(deployment_name=deployment, timeout=STREAM_TIMEOUT)
        with closing(watch):
            snapshot = next(watch)
            assert (snapshot.execution_id, snapshot.revision, snapshot.snapshot) == (a, 1, True)
            worker.start(a)
            event = next(watch)
            seen.append((event.execution_id, event.revision))
            first.stop(grace=1)
            assert_down(first.address)
            with restarted(first) as second, client(second.address) as worker2:
                b = worker2.create_execution(deployment_name=deployment).execution_id
                worker2.stop(a, SUCCESS)
                worker2.start(b)
                for _ in range(3):
                    event = next(watch)
                    seen.append((event.execution_id, event.revision))
    assert seen == [(a, 2), (b, 1), (a, 3), (b, 2)]
    assert sleeps


def test_deployment_log_follow_resumes_across_a_restart(make_server: ServerFactory) -> None:
    first = make_server()
    sleeps = Sleeps()
    deployment = unique("dep")
    with client(first.address, sleeps.policy()) as follower, client(first.address) as worker:
        worker.create_deployment(deployment, "train", "endpoint")
        a = worker.create_execution(deployment_name=deployment).execution_id
        worker.start(a)
        worker.append_logs(a, ["a1", "a2"])
        lines = follower.follow_logs(deployment_name=deployment, timeout=STREAM_TIMEOUT)
        with closing(lines):
            seen = [next(lines), next(lines)]
            first.stop(grace=1)
            assert_down(first.address)
            with restarted(first) as second, client(second.address) as worker2:
                b = worker2.create_execution(deployment_name=deployment).execution_id
                worker2.start(b)
                worker2.append_logs(a, ["a3"])
                worker2.append_logs(b, ["b1"])
                worker2.stop(a, SUCCESS)
                seen += [next(lines), next(lines)]
                worker2.delete_deployment(deployment)
                seen += list(lines)  # ends with the deployment
    got = sorted((e.execution_id, e.seq, e.message) for e in seen)
    assert got == sorted([(a, 1, "a1"), (a, 2, "a2"), (a, 3, "a3"), (b, 1, "b1")])
    assert sleeps  # it did reconnect


async def test_async_filtered_deployment_logs(make_server: ServerFactory) -> None:
    server = make_server()
    deployment = unique("dep")
    async with async_client(server.address) as aclient:
        await aclient.create_deployment(deployment, "train", "endpoint")
        a = (await aclient.create_execution(deployment_name=deployment)).execution_id
        await aclient.append_logs(a, ["loss=0.5", "warn: slow", "loss=0.2"])
        lines = aclient.follow_logs(
            deployment_name=deployment, pattern=r"loss=0\.[0-3]", follow=False
        )
        assert [(e.execution_id, e.message) async for e in lines] == [(a, "loss=0.2")]
        responses = aclient.stream_logs(deployment_name=deployment, contains="warn")
        batches = [r async for r in responses]
        assert [[e.message for e in r.entries] for r in batches] == [["warn: slow"]]
        assert batches[0].resume_token


async def test_async_watch_resumes_across_a_restart(make_server: ServerFactory) -> None:
    first = make_server()
    down = asyncio.Event()
    up = asyncio.Event()
    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)
        if not up.is_set():
            down.set()
            await up.wait()  # the next attempt goes to the restarted server
        else:
            await asyncio.sleep(min(delay, 0.05))

    policy = RetryPolicy(async_sleep=sleep, max_attempts=100)
    async with async_client(first.address, policy) as watcher:
        async with async_client(first.address) as worker:
            execution_id = (await worker.create_execution(pipeline_name="t")).execution_id
        watch = watcher.watch(execution_id=execution_id, timeout=STREAM_TIMEOUT)
        async with aclosing(watch):
            events = [await anext(watch)]
            async with async_client(first.address) as worker:
                await worker.start(execution_id)
                await worker.update_progress(execution_id, 0.5)
            events += [await anext(watch), await anext(watch)]
            waiting = asyncio.create_task(anext(watch))  # waits while the server goes away
            await asyncio.to_thread(first.stop, 1)
            await asyncio.wait_for(down.wait(), WAIT)
            await asyncio.to_thread(assert_down, first.address)
            async with async_restarted(first) as second:
                up.set()
                async with async_client(second.address) as worker:
                    await worker.update_progress(execution_id, 0.7)
                    await worker.update_step(
                        execution_id, epb.Step(name="fit", status=spb.RUNNING_STATUS_RUNNING)
                    )
                    await worker.stop(execution_id, SUCCESS)
                events.append(await asyncio.wait_for(waiting, WAIT))
                events += [e async for e in watch]
    one_each(events, 6)
    assert events[-1].job_status.status == SUCCESS
    assert sleeps


async def test_async_follow_logs_resumes_across_a_restart(make_server: ServerFactory) -> None:
    first = make_server()
    sleeps = Sleeps()
    async with async_client(first.address) as worker:
        execution_id = (await worker.create_execution(pipeline_name="t")).execution_id
        await worker.start(execution_id)
        await worker.append_logs(execution_id, ["a1", "a2", "a3"])
    async with async_client(first.address, sleeps.policy()) as follower:
        # tail: the first connection starts at the last two lines; the reconnect must not.
        logs = follower.follow_logs(execution_id, tail=2, timeout=STREAM_TIMEOUT)
        async with aclosing(logs):
            entries = [await anext(logs), await anext(logs)]
            await asyncio.to_thread(first.stop, 1)
            await asyncio.to_thread(assert_down, first.address)
            async with async_restarted(first) as second:
                async with async_client(second.address) as worker:
                    await worker.append_logs(execution_id, ["b1"])
                    await worker.append_logs(execution_id, ["b2", "b3"])
                    await worker.stop(execution_id, SUCCESS)
                entries += [e async for e in logs]
    assert [e.seq for e in entries] == [2, 3, 4, 5, 6]
    assert [e.message for e in entries] == ["a2", "a3", "b1", "b2", "b3"]
    assert sleeps


# A watcher that falls behind


def test_a_slow_watch_is_closed_and_resumes_by_itself(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tracking.client")
    server = make_server(watcher_queue=8, heartbeat_seconds=30)
    changes = 600
    sleeps: list[float] = []
    policy = RetryPolicy(sleep=sleeps.append)
    # Without BDP probing the transport window stays small, as for a client that stops reading.
    slow = grpc.insecure_channel(
        server.address, options=[("grpc.http2.bdp_probe", 0), ("grpc.use_local_subchannel_pool", 1)]
    )
    with slow, client(server.address) as worker:
        watcher = TrackingClient.from_channel(slow, retry=policy)
        execution_id = worker.create_execution(pipeline_name="train").execution_id
        watch = watcher.watch(execution_id=execution_id, timeout=STREAM_TIMEOUT)
        with closing(watch):
            events = [next(watch)]  # the stream is open; now it is not read for a while
            worker.start(execution_id)
            phase = "x" * 2000  # large events fill the slow watcher's transport window quickly
            for step in range(changes - 2):
                worker.update_progress(execution_id, step / changes, phase=f"{phase}{step}")
            worker.stop(execution_id, SUCCESS)
            events += list(watch)
    one_each(events, changes + 1)
    assert events[-1].job_status.status == SUCCESS
    assert sleeps  # the server closed the first stream, the watch reconnected
    closed = [r.getMessage() for r in caplog.records if "RESOURCE_EXHAUSTED" in r.getMessage()]
    assert closed, [r.getMessage() for r in caplog.records]
    assert "fell too far behind" in closed[0]


# What no reconnect can fix


Watch = Callable[[TrackingClient, str], Any]


@pytest.mark.parametrize(
    "read",
    [
        lambda c, e: next(c.watch(execution_id=e, timeout=STREAM_TIMEOUT)),
        lambda c, e: next(c.follow_logs(e, timeout=STREAM_TIMEOUT)),
    ],
    ids=["watch", "follow_logs"],
)
def test_a_missing_execution_raises_not_found_at_once(server: ServerThread, read: Watch) -> None:
    sleeps = Sleeps()
    with client(server.address, sleeps.policy()) as c:
        missing = unique("missing")
        with pytest.raises(NotFound, match=missing):
            read(c, missing)
        with pytest.raises(InvalidArgument) as caught:
            read(c, "bad id")
    assert caught.value.field_violations
    assert sleeps == []


def test_a_cursor_into_what_retention_removed_raises_failed_precondition(
    make_server: ServerFactory,
) -> None:
    server = make_server(retention_seconds=3600)
    assert server.app is not None
    sleeps = Sleeps()
    deployment = unique("dep")
    with client(server.address, sleeps.policy()) as c:
        c.create_deployment(deployment, "train", "endpoint")
        execution_id = c.create_execution(deployment_name=deployment).execution_id
        with closing(c.watch(deployment_name=deployment, timeout=STREAM_TIMEOUT)) as watch:
            token = next(watch).resume_token
        c.start(execution_id)
        c.append_logs(execution_id, ["one", "two"])
        c.stop(execution_id, SUCCESS)
        server.run(server.app.retention.sweep(now=datetime.now(UTC) + timedelta(hours=2)))
        refused: list[Callable[[], object]] = [
            lambda: list(c.watch(execution_id=execution_id, after_revision=1, timeout=WAIT)),
            lambda: list(c.watch(deployment_name=deployment, resume_token=token, timeout=WAIT)),
            lambda: list(c.follow_logs(execution_id, after_seq=1, timeout=WAIT)),
        ]
        for call in refused:
            with pytest.raises(FailedPrecondition, match="retention"):
                call()
        # Without a cursor there is nothing to refuse: the snapshot says how it ended.
        [final] = c.watch(execution_id=execution_id, timeout=STREAM_TIMEOUT)
    assert final.snapshot
    assert final.job_status.status == SUCCESS
    assert sleeps == []


async def test_async_errors_are_raised_at_once(make_server: ServerFactory) -> None:
    server = make_server(retention_seconds=3600)
    assert server.app is not None
    sleeps = Sleeps()
    async with async_client(server.address, sleeps.policy()) as c:
        missing = unique("missing")
        with pytest.raises(NotFound):
            await anext(c.watch(execution_id=missing, timeout=STREAM_TIMEOUT))
        with pytest.raises(NotFound):
            await anext(c.follow_logs(missing, timeout=STREAM_TIMEOUT))
        execution_id = (await c.create_execution(pipeline_name="t")).execution_id
        await c.start(execution_id)
        await c.stop(execution_id, SUCCESS)
        await asyncio.to_thread(
            server.run, server.app.retention.sweep(now=datetime.now(UTC) + timedelta(hours=2))
        )
        with pytest.raises(FailedPrecondition, match="retention"):
            await anext(c.watch(execution_id=execution_id, after_revision=1, timeout=WAIT))
    assert sleeps == []
