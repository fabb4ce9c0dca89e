"""What deployment-wide log streams make the server keep for their resume tokens: saved
positions cost a bounded number of [execution_id, seq] pairs per line sent, however many
executions run at once; any token a client received resumes with every line once; a
position stays as long as retention keeps it, its chain with it, and an older one is
FAILED_PRECONDITION."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
from sqlalchemy import text

from tests.support.factories import create_deployment, create_execution, start
from tests.support.http import EventReader
from tests.support.server import ServerThread
from tracking.service.store.deployment_logs import DEPLOYMENT_LOG_CURSOR_DAYS
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

RUNNING = 64
ROUNDS = 10  # a line to each running execution per round
GRPC_STREAMS = 2
SSE_STREAMS = 2
# What a saved position may cost per line a stream is sent, in pairs: the pairs that moved,
# and as much again for the full copy every so often, whatever RUNNING is. Writing every
# seq each time 16 executions moved costs RUNNING / 16 pairs a line.
PAIRS_PER_LINE = 2

pytestmark = pytest.mark.timeout(600)

Line = tuple[str, str]


def _sql(server: ServerThread, statement: str, **values: Any) -> list[Any]:
    async def run() -> list[Any]:
        assert server.app is not None
        async with server.app.database.write_engine.begin() as connection:
            result = await connection.execute(text(statement), values)
            return list(result) if result.returns_rows else []

    return list(server.run(run()))


def _last_saved(server: ServerThread) -> int:
    ((last,),) = _sql(server, "SELECT COALESCE(MAX(id), 0) FROM deployment_log_cursors")
    return int(last)


def _saved_since(server: ServerThread, after: int) -> list[str]:
    """The seqs of each position saved after id `after`, as stored (JSON text)."""
    rows = _sql(
        server,
        "SELECT CAST(seqs AS TEXT) FROM deployment_log_cursors WHERE id > :after",
        after=after,
    )
    return [str(row[0]) for row in rows]


def _base_of(token: str) -> int | None:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    base = json.loads(raw[16:])["p"].get("b")
    return None if base is None else int(base)


def _grpc_lines(responses: Iterator[pb.StreamLogsResponse]) -> Iterator[tuple[Line, str]]:
    for response in responses:
        for entry in response.entries:
            yield (entry.execution_id, entry.message), response.resume_token


def _sse_lines(reader: EventReader) -> Iterator[tuple[Line, str]]:
    while True:
        (event,) = reader.take(1)
        for entry in event.data.get("entries", []):
            yield (entry["executionId"], entry["message"]), event.id


def _resumed(stub: TrackingServiceStub, name: str, token: str) -> list[Line]:
    request = pb.StreamLogsRequest(deployment_name=name, follow=False, resume_token=token)
    return [line for line, _ in _grpc_lines(stub.StreamLogs(request, timeout=60))]


def _running(stub: TrackingServiceStub) -> tuple[str, list[str]]:
    name = create_deployment(stub).name
    executions = []
    for _ in range(RUNNING):
        execution_id = create_execution(stub, deployment_name=name).execution_id
        start(stub, execution_id)
        executions.append(execution_id)
    return name, executions


def test_saved_positions_cost_pairs_per_line_not_per_running_execution(
    stub: TrackingServiceStub, server: ServerThread
) -> None:
    name, executions = _running(stub)
    before = _last_saved(server)
    sent: list[Line] = []
    received: list[list[tuple[Line, str]]] = []
    with ExitStack() as stack:
        followers: list[Iterator[tuple[Line, str]]] = []
        for _ in range(GRPC_STREAMS):
            request = pb.StreamLogsRequest(deployment_name=name, follow=True)
            call = stub.StreamLogs(request, timeout=300)
            stack.callback(call.cancel)
            followers.append(_grpc_lines(call))
        client = stack.enter_context(httpx.Client(base_url=server.http_url, timeout=60))
        for _ in range(SSE_STREAMS):
            path = f"/events/StreamLogs?deployment_name={name}&follow=true"
            response = stack.enter_context(client.stream("GET", path))
            followers.append(_sse_lines(EventReader(response)))
        received = [[] for _ in followers]
        for round_ in range(ROUNDS):
            lines = [(execution_id, f"{round_}:{i}") for i, execution_id in enumerate(executions)]
            for execution_id, message in lines:
                entries = [epb.LogEntry(message=message)]
                stub.AppendLogs(pb.AppendLogsRequest(execution_id=execution_id, entries=entries))
            sent.extend(lines)
            # Each follower takes the round's lines before the next round: every execution
            # moves once a round, and each line is sent on its own or nearly.
            for follower, got in zip(followers, received, strict=True):
                taken = [next(follower) for _ in lines]
                assert sorted(line for line, _ in taken) == sorted(lines)
                got.extend(taken)
    saved = _saved_since(server, before)
    pairs = sum(len(json.loads(seqs)) for seqs in saved)
    size = sum(len(seqs) for seqs in saved)
    streams = GRPC_STREAMS + SSE_STREAMS
    print(f"{streams} streams, {RUNNING} running, {len(sent)} lines: ", end="")
    print(f"{len(saved)} rows, {pairs} pairs, {size} bytes of seqs")
    # Each stream saves every seq once when it opens, then pays per line.
    assert pairs <= streams * (RUNNING + PAIRS_PER_LINE * len(sent)), (len(saved), pairs, size)
    longest = max(len(token) for got in received for _, token in got)
    assert longest <= 4096

    # Any token a stream was sent resumes right after its line: every token of the first
    # stream, from the oldest to the newest, on a chain of saved positions.
    first = [line for line, _ in received[0]]
    tokens = [token for _, token in received[0]]
    assert len({_base_of(token) for token in tokens}) > 4
    for cut in [*range(0, len(tokens), 37), len(tokens) - 1]:
        assert sorted(_resumed(stub, name, tokens[cut])) == sorted(first[cut + 1 :]), cut


def test_an_old_position_keeps_its_chain_and_an_expired_one_is_refused(
    stub: TrackingServiceStub, server: ServerThread
) -> None:
    name, executions = _running(stub)
    request = pb.StreamLogsRequest(deployment_name=name, follow=True)
    call = stub.StreamLogs(request, timeout=300)
    try:
        follower = _grpc_lines(call)
        sent: list[Line] = []
        tokens: list[str] = []
        for index, execution_id in enumerate(executions[:40]):
            line = (execution_id, f"line {index}")
            entries = [epb.LogEntry(message=line[1])]
            stub.AppendLogs(pb.AppendLogsRequest(execution_id=execution_id, entries=entries))
            sent.append(line)
            got, token = next(follower)
            assert got == line
            tokens.append(token)
    finally:
        call.cancel()
    first_base = _base_of(tokens[0])
    last_base = _base_of(tokens[-1])
    assert first_base is not None
    assert last_base is not None
    assert first_base < last_base
    # Every position this stream saved but the newest is past retention; saving another
    # (a new stream's) sweeps what expired.
    old = datetime.now(UTC) - timedelta(days=DEPLOYMENT_LOG_CURSOR_DAYS, hours=1)
    _sql(
        server,
        "UPDATE deployment_log_cursors SET create_time = :old WHERE id >= :first AND id < :last",
        old=old,
        first=first_base,
        last=last_base,
    )
    other, others = _running(stub)
    for execution_id in others[:20]:
        entries = [epb.LogEntry(message="elsewhere")]
        stub.AppendLogs(pb.AppendLogsRequest(execution_id=execution_id, entries=entries))
    assert len(_resumed(stub, other, "")) == 20
    after = (executions[0], "after")
    stub.AppendLogs(
        pb.AppendLogsRequest(execution_id=after[0], entries=[epb.LogEntry(message=after[1])])
    )
    # The newest position builds on older ones: they stay while it does. Tokens that name
    # an older one are refused.
    for cut, token in enumerate(tokens):
        if _base_of(token) == last_base:
            assert sorted(_resumed(stub, name, token)) == sorted([*sent[cut + 1 :], after])
            continue
        with pytest.raises(grpc.RpcError) as caught:
            _resumed(stub, name, token)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION, cut
        assert f"{DEPLOYMENT_LOG_CURSOR_DAYS} days" in (caught.value.details() or "")
    # A chain missing a link (its root, here) is never read as if the link's seqs were not
    # there: the token is refused.
    _sql(server, "DELETE FROM deployment_log_cursors WHERE id = :first", first=first_base)
    with pytest.raises(grpc.RpcError) as caught:
        _resumed(stub, name, tokens[-1])
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
