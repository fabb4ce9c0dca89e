"""Group commit: concurrent writes share transactions, and each still gets its own answer.

Concurrent calls go through grpc.aio to the real server (SQLite and PostgreSQL). Writes
issued together from one event loop on the server's own Database are sure to share one
batch, which is how the mixed-batch tests know that failures and successes met.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import grpc
import pytest
from sqlalchemy import text

from tests.support.factories import create_deployment, create_execution, start, stop
from tests.support.server import ServerThread
from tracking.service.api.execution_messages import new_execution
from tracking.service.api.stored_executions import stored_form, with_job_status
from tracking.service.domain.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from tracking.service.domain.executions import NewExecution
from tracking.service.domain.job_actions import Progress, Start, Stop, Times
from tracking.service.domain.log_batch import LogBatch
from tracking.service.domain.status import RunningStatus
from tracking.service.events.hub import EventHub, SharedEvent, Subscription, Topic
from tracking.service.operations.executions import Executions
from tracking.service.operations.logs import Logs
from tracking.service.operations.recording import Recorder
from tracking.service.settings import Settings
from tracking.service.store.database import Database
from tracking.service.store.driver import Hot, param
from tracking.service.store.group import Batch
from tracking.v1 import execution_pb2, status_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

_HALF = Hot(
    text("UPDATE executions SET phase = 'half' WHERE execution_id = :b_id").bindparams(
        param("b_id")
    )
)
_NO_SUCH_TABLE = Hot(text("SELECT * FROM no_such_table"))


def _progress(execution_id: str, phase: str, **fields: Any) -> pb.UpdateJobStatusRequest:
    return pb.UpdateJobStatusRequest(
        execution_id=execution_id, progress=pb.ProgressAction(progress=0.5, phase=phase), **fields
    )


def _stored_events(
    stub: TrackingServiceStub, execution_id: str, after: int
) -> list[tuple[int, str]]:
    """(revision, phase) of every stored event after `after`, read by a fresh watch."""
    revision = stub.GetJobStatus(pb.GetJobStatusRequest(execution_id=execution_id)).job_status
    events: list[tuple[int, str]] = []
    if revision.revision <= after:
        return events
    for response in stub.WatchStatus(
        pb.WatchStatusRequest(execution_id=execution_id, after_revision=after), timeout=60
    ):
        if response.HasField("event"):
            events.append((response.event.revision, response.event.job_status.phase))
            if response.event.revision >= revision.revision:
                break
    return events


async def _watch(address: str, execution_id: str, after: int, last: int) -> list[tuple[int, str]]:
    """What a watcher opened before the writes sees, up to revision `last`."""
    seen: list[tuple[int, str]] = []
    async with grpc.aio.insecure_channel(address) as channel:
        stub = TrackingServiceStub(channel)
        call = stub.WatchStatus(
            pb.WatchStatusRequest(execution_id=execution_id, after_revision=after), timeout=120
        )
        async for response in call:
            if response.HasField("event"):
                seen.append((response.event.revision, response.event.job_status.phase))
                if response.event.revision >= last:
                    call.cancel()
                    break
    return seen


@pytest.mark.parametrize(("writers_per_execution", "executions"), [(200, 1), (12, 16)])
def test_concurrent_writes_are_each_stored_once_in_revision_order(
    server: ServerThread, stub: TrackingServiceStub, writers_per_execution: int, executions: int
) -> None:
    ids = [create_execution(stub).execution_id for _ in range(executions)]
    base = {execution_id: start(stub, execution_id).revision for execution_id in ids}
    batches_before = server.app.database.group.batches if server.app else 0

    async def run() -> tuple[dict[str, list[tuple[int, str]]], list[tuple[str, int, str]]]:
        watchers = {
            execution_id: asyncio.create_task(
                _watch(
                    server.address,
                    execution_id,
                    base[execution_id],
                    base[execution_id] + writers_per_execution,
                )
            )
            for execution_id in ids
        }
        async with grpc.aio.insecure_channel(server.address) as channel:
            client = TrackingServiceStub(channel)
            # The watchers start from the revision before the writes: whenever they open,
            # they see every one of them.

            async def write(execution_id: str, phase: str) -> tuple[str, int, str]:
                response = await client.UpdateJobStatus(_progress(execution_id, phase))
                return execution_id, response.job_status.revision, phase

            acknowledged = await asyncio.gather(
                *(
                    write(execution_id, f"p{n}-{execution_id}")
                    for n in range(writers_per_execution)
                    for execution_id in ids
                )
            )
        seen = {e: await asyncio.wait_for(task, 120) for e, task in watchers.items()}
        return seen, list(acknowledged)

    seen, acknowledged = asyncio.run(run())
    assert server.app is not None
    assert server.app.database.group.batches > batches_before
    for execution_id in ids:
        first = base[execution_id] + 1
        expected = list(range(first, first + writers_per_execution))
        mine = sorted((r, p) for e, r, p in acknowledged if e == execution_id)
        assert [r for r, _ in mine] == expected  # one revision each, no gap, none twice
        stored = _stored_events(stub, execution_id, base[execution_id])
        assert stored == mine  # every acknowledged write stored once, as acknowledged
        assert seen[execution_id] == mine  # the watcher saw each change once, in order


def test_a_deployment_watcher_sees_every_change_of_a_burst_once_in_commit_order(
    server: ServerThread, stub: TrackingServiceStub
) -> None:
    deployment = create_deployment(stub).name
    ids = [create_execution(stub, deployment_name=deployment).execution_id for _ in range(8)]
    base = {execution_id: start(stub, execution_id).revision for execution_id in ids}
    per_execution = 25

    async def run() -> list[tuple[str, int]]:
        seen: list[tuple[str, int]] = []
        total = len(ids) * per_execution
        async with grpc.aio.insecure_channel(server.address) as channel:
            client = TrackingServiceStub(channel)
            call = client.WatchStatus(
                pb.WatchStatusRequest(deployment_name=deployment), timeout=120
            )
            opened = asyncio.get_running_loop().create_future()

            async def read() -> None:
                async for response in call:
                    if not opened.done():
                        opened.set_result(None)  # the first response: the watch is open
                    if not response.HasField("event"):
                        continue
                    event = response.event
                    if event.execution_id == ids[0] and event.job_status.phase == "opened":
                        continue
                    if event.revision > base[event.execution_id]:
                        seen.append((event.execution_id, event.revision))
                        if len(seen) >= total:
                            return

            reader = asyncio.create_task(read())
            # A change that reaches the watcher tells the test it listens.
            await client.UpdateJobStatus(_progress(ids[0], "opened"))
            await asyncio.wait_for(opened, 60)
            base[ids[0]] += 1
            await asyncio.gather(
                *(
                    client.UpdateJobStatus(_progress(execution_id, f"d{n}"))
                    for n in range(per_execution)
                    for execution_id in ids
                )
            )
            await asyncio.wait_for(reader, 120)
            call.cancel()
        return seen

    seen = asyncio.run(run())
    assert len(seen) == len(set(seen)) == len(ids) * per_execution
    for execution_id in ids:
        revisions = [r for e, r in seen if e == execution_id]
        assert revisions == list(
            range(base[execution_id] + 1, base[execution_id] + 1 + per_execution)
        )


def test_mixed_calls_in_the_same_moment_each_get_their_own_answer(
    server: ServerThread, stub: TrackingServiceStub
) -> None:
    running = create_execution(stub).execution_id
    start(stub, running)
    ended = create_execution(stub).execution_id
    start(stub, ended)
    ended_revision = stop(stub, ended).revision
    guarded = create_execution(stub).execution_id
    guarded_revision = start(stub, guarded).revision
    rounds = 20

    async def run() -> list[Any]:
        async with grpc.aio.insecure_channel(server.address) as channel:
            client = TrackingServiceStub(channel)

            async def code(call: Any) -> Any:
                try:
                    return await call
                except grpc.aio.AioRpcError as error:
                    return error.code()

            calls = []
            for n in range(rounds):
                calls += [
                    code(client.UpdateJobStatus(_progress(running, f"ok{n}"))),
                    code(
                        client.UpdateJobStatus(
                            pb.UpdateJobStatusRequest(
                                execution_id=ended,
                                stop=pb.StopAction(cause=status_pb2.RUNNING_STATUS_ERROR),
                            )
                        )
                    ),
                    code(
                        client.UpdateJobStatus(
                            _progress(guarded, f"stale{n}", expected_revision=guarded_revision - 1)
                        )
                    ),
                    code(
                        client.AppendLogs(
                            pb.AppendLogsRequest(
                                execution_id=running,
                                entries=[execution_pb2.LogEntry(message="x" * 70_000)],
                            )
                        )
                    ),
                    code(
                        client.AppendLogs(
                            pb.AppendLogsRequest(
                                execution_id=ended, entries=[execution_pb2.LogEntry(message="late")]
                            )
                        )
                    ),
                    code(client.UpdateJobStatus(_progress("no-such-execution-" + running, "x"))),
                    code(
                        client.AppendLogs(
                            pb.AppendLogsRequest(
                                execution_id=running,
                                entries=[execution_pb2.LogEntry(message=f"line {n}")],
                            )
                        )
                    ),
                ]
            return list(await asyncio.gather(*calls))

    answers = asyncio.run(run())
    expected = [
        "ok",
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        "ok",
    ]
    for index, answer in enumerate(answers):
        want = expected[index % len(expected)]
        if want == "ok":
            assert not isinstance(answer, grpc.StatusCode), (index, answer)
        else:
            assert answer == want, (index, answer)
    # The failures changed nothing; every success is stored.
    assert stub.GetJobStatus(pb.GetJobStatusRequest(execution_id=ended)).job_status.revision == (
        ended_revision
    )
    assert (
        stub.GetJobStatus(pb.GetJobStatusRequest(execution_id=guarded)).job_status.revision
        == guarded_revision
    )
    ended_logs = stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=ended)).entries
    assert list(ended_logs) == []
    lines = stub.GetExecutionLogs(pb.GetExecutionLogsRequest(execution_id=running)).entries
    assert sorted(line.message for line in lines) == sorted(f"line {n}" for n in range(rounds))
    assert [line.seq for line in lines] == list(range(1, rounds + 1))
    phases = [phase for _, phase in _stored_events(stub, running, 2)]
    assert sorted(phases) == sorted(f"ok{n}" for n in range(rounds))


# One batch for sure: writes issued together on the Database's own loop.


@pytest.fixture
def storage(fresh_database: str) -> Iterator[tuple[Database, Executions, Logs, EventHub]]:
    settings = Settings(database_url=fresh_database)
    loop = asyncio.new_event_loop()
    database = Database(fresh_database)
    loop.run_until_complete(database.start())
    hub = EventHub(queue_capacity=1000, max_watchers_per_principal=1000, heartbeat_seconds=60)
    limits = settings.limits()
    recorder = Recorder(database, stored_form, with_job_status)
    asyncio.set_event_loop(loop)
    try:
        yield (
            database,
            Executions(database, hub, limits, recorder),
            Logs(database, hub, limits, recorder),
            hub,
        )
    finally:
        loop.run_until_complete(database.close())
        asyncio.set_event_loop(None)
        loop.close()


def _fields() -> NewExecution:
    return new_execution(execution_pb2.Execution(pipeline_name="pipe"))


async def _outcomes(*calls: Any) -> list[Any]:
    return list(await asyncio.gather(*calls, return_exceptions=True))


def test_one_batch_holds_failures_and_successes_and_the_failures_change_nothing(
    storage: tuple[Database, Executions, Logs, EventHub],
) -> None:
    database, executions, logs, hub = storage
    loop = asyncio.get_event_loop()

    async def prepare() -> tuple[str, str]:
        a = (await executions.create(_fields(), "", "", "test")).execution_id
        b = (await executions.create(_fields(), "", "", "test")).execution_id
        for execution_id in (a, b):
            await executions.update_status(execution_id, Start(), None)
        await executions.update_status(b, Stop(cause=RunningStatus.SUCCESS), None)
        return a, b

    a, b = loop.run_until_complete(prepare())

    async def subscribe_and_write() -> tuple[list[Any], list[int]]:
        before = database.group.batches
        with hub.subscribe(Topic("execution", a)) as subscription:
            outcomes = await _outcomes(
                executions.update_status(a, Progress(progress=0.1), None),
                executions.update_status(b, Progress(progress=0.2), None),
                executions.update_status(a, Progress(progress=0.3), 1),
                logs.append(b, _lines("late")),
                executions.update_status(
                    a,
                    Times(
                        start_time=_utc(2030),
                        create_time=_utc(2031),
                    ),
                    None,
                ),
                executions.update_status("missing", Progress(progress=0.4), None),
                logs.append(a, _lines("one", "two")),
                executions.update_status(a, Progress(progress=0.5), None),
            )
            assert database.group.batches == before + 1  # all of them, one transaction
            published = []
            while subscription.depth:
                event = await subscription.next()
                assert isinstance(event, SharedEvent)
                published.append(event.row.revision)
        return outcomes, published

    outcomes, published = loop.run_until_complete(subscribe_and_write())
    assert [type(o).__name__ for o in outcomes] == [
        "JobState",
        "FailedPrecondition",
        "Aborted",
        "FailedPrecondition",
        "InvalidArgument",
        "NotFound",
        "int",
        "JobState",
    ]
    assert isinstance(outcomes[1], FailedPrecondition)
    assert isinstance(outcomes[2], Aborted)
    assert isinstance(outcomes[4], InvalidArgument)
    assert isinstance(outcomes[5], NotFound)
    first, last = outcomes[0], outcomes[7]
    assert (first.revision, last.revision) == (3, 4)  # no revision for the failures
    assert outcomes[6] == 2
    assert published == [3, 4]  # after the commit, in commit order

    async def stored() -> tuple[Any, Any, Any]:
        row_a = await executions.get(a)
        row_b = await executions.get(b)
        page = await logs.read(a, from_time=None, to_time=None, limit=0, stream=None, after_seq=0)
        return row_a, row_b, page

    row_a, row_b, page = loop.run_until_complete(stored())
    assert (row_a.revision, row_a.progress) == (4, 0.5)
    assert row_a.start_time is not None
    assert row_a.start_time.year != 2030
    assert (row_b.revision, row_b.log_seq) == (3, 0)
    assert [line.message for line in page.lines] == ["one", "two"]


def test_a_writer_is_answered_before_the_watchers_its_change_wakes_run(
    storage: tuple[Database, Executions, Logs, EventHub],
) -> None:
    """The hub wakes a change's watchers once its writers are answered: the writer's answer
    does not wait behind every watcher sending the change (each a gRPC send)."""
    _, executions, _, hub = storage
    loop = asyncio.get_event_loop()

    async def writer_and_watchers() -> list[str]:
        execution_id = (await executions.create(_fields(), "", "", "test")).execution_id
        await executions.update_status(execution_id, Start(), None)
        order: list[str] = []

        async def watch(subscription: Subscription, name: str) -> None:
            event = await subscription.next()
            assert isinstance(event, SharedEvent)
            order.append(name)

        topic = Topic("execution", execution_id)
        with hub.subscribe(topic) as first, hub.subscribe(topic) as second:
            watchers = [
                asyncio.create_task(watch(first, "watcher")),
                asyncio.create_task(watch(second, "watcher")),
            ]
            await asyncio.sleep(0)  # both wait for the hub
            await executions.update_status(execution_id, Progress(progress=0.5), None)
            order.append("writer")
            await asyncio.gather(*watchers)
        return order

    assert loop.run_until_complete(writer_and_watchers()) == ["writer", "watcher", "watcher"]


def _utc(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


def _lines(*messages: str) -> LogBatch:
    return LogBatch(list(messages), ["STDOUT"] * len(messages), [""] * len(messages))


def test_a_write_without_savepoint_that_fails_after_changing_starts_the_batch_over(
    storage: tuple[Database, Executions, Logs, EventHub],
) -> None:
    database, executions, _, _ = storage
    loop = asyncio.get_event_loop()

    async def prepare() -> str:
        execution_id = (await executions.create(_fields(), "", "", "test")).execution_id
        await executions.update_status(execution_id, Start(), None)
        return execution_id

    a = loop.run_until_complete(prepare())

    async def broken(batch: Batch) -> None:
        # A change, then a statement the database refuses: not a domain error.
        await batch.connection.execute(_HALF, b_id=a)
        await batch.connection.execute(_NO_SUCH_TABLE)

    async def write_together() -> list[Any]:
        before = database.group.batches
        outcomes = await _outcomes(
            executions.update_status(a, Progress(progress=0.1), None),
            database.write(broken, key=f"1:{a}", savepoint=False),
            executions.update_status(a, Progress(progress=0.2), None),
        )
        # The first batch was rolled back; the two good writes committed in the next one.
        assert database.group.batches == before + 1
        return outcomes

    first, failed, last = loop.run_until_complete(write_together())
    assert isinstance(failed, sqlite3.Error | asyncpg.PostgresError)
    assert (first.revision, last.revision) == (3, 4)
    row = loop.run_until_complete(executions.get(a))
    assert (row.revision, row.progress, row.phase) == (4, 0.2, "")
