"""Many resuming watchers (AsyncTrackingClient.watch) in a process of their own.

    python -m tests.support.chaos_watchers '{"address": ..., "executions": [...], ...}'

Options (JSON): address, executions (ids), deployment (name), count, every (one watcher in
`every` watches the whole deployment, the others one execution each), followers (resuming
log followers per execution, reading forever), paused (wait for a line on stdin before
reading anything after the first item: a client that stops reading), bdp (HTTP/2 window
growth; off for a paused client, so its window stays small), guard (seconds after which
a watcher gives up, reconnects included; HANG_GUARD unless given).

Prints "ready" once every watcher has its first snapshot. When every watcher has seen
every execution end, prints one JSON line: per watcher, its scope, the revisions it got
per execution as runs of consecutive revisions ([first, last], ...), a digest of what the
events carried, and how many events the server sent that the client's cursor dropped as
already handed out; plus the reconnects the client logged and any error.
A process of their own gives the watchers their own CPU and GIL, as real clients have.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from tracking.client import AsyncTrackingClient, RetryPolicy
from tracking.client.resume import StatusWatch, is_final
from tracking.v1 import execution_pb2
from tracking.v1 import tracking_service_pb2 as pb

PER_CHANNEL = 50
# Long enough to ride out a restart of the server or of its database.
RETRY = RetryPolicy(max_attempts=200, initial_backoff=0.2, max_backoff=1.0)
HANG_GUARD = 900.0


def channel_options(bdp: bool) -> list[tuple[str, Any]]:
    return [
        # Separate channels are separate HTTP/2 connections, as separate clients would have.
        ("grpc.use_local_subchannel_pool", 1),
        # Reconnect to a restarted server within a second or so.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.min_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 1000),
        ("grpc.http2.bdp_probe", 1 if bdp else 0),
    ]


class CountingWatch(StatusWatch):
    """The client's cursor, also counting what the server sent again (which it drops)."""

    def __init__(self, **scope: Any) -> None:
        super().__init__(**scope)
        self.repeats = 0

    def accept(self, response: pb.WatchStatusResponse) -> list[execution_pb2.ExecutionEvent]:
        if response.HasField("event"):
            last = self.revisions.get(response.event.execution_id)
            if last is not None and response.event.revision <= last:
                self.repeats += 1
        return super().accept(response)


def digest_line(revision: int, phase: str) -> bytes:
    return f"{revision}:{phase}\n".encode()


@dataclass
class Received:
    scope: str
    runs: dict[str, list[list[int]]] = field(default_factory=dict)
    digests: dict[str, Any] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    snapshots: dict[str, int] = field(default_factory=dict)

    def add(self, event: execution_pb2.ExecutionEvent) -> None:
        runs = self.runs.setdefault(event.execution_id, [])
        if runs and runs[-1][1] + 1 == event.revision:
            runs[-1][1] = event.revision
        else:
            runs.append([event.revision, event.revision])
        digest = self.digests.setdefault(event.execution_id, hashlib.sha256())
        digest.update(digest_line(event.revision, event.job_status.phase))


class ReconnectCounter(logging.Handler):
    """Counts the reconnects the client logs, by the status code that ended the stream."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.codes: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if "reconnecting" in record.msg and isinstance(record.args, tuple):
            code = str(record.args[1])
            self.codes[code] = self.codes.get(code, 0) + 1


async def watch_one(
    client: AsyncTrackingClient,
    scope: dict[str, str],
    executions: set[str],
    received: Received,
    first: asyncio.Event,
    go: asyncio.Event,
    guard: float,
) -> int:
    watch = CountingWatch(**scope)
    # watch() itself, with the cursor above: the stream the user reads, resumed as watch() does.
    events: AsyncGenerator[execution_pb2.ExecutionEvent, None] = client._resuming(watch, guard)
    try:
        async for event in events:
            if event.snapshot:
                received.snapshots[event.execution_id] = event.revision
                first.set()
                await go.wait()
                continue
            received.add(event)
            if is_final(event):
                received.ended.add(event.execution_id)
            if received.ended >= executions:
                break
    finally:
        await events.aclose()
        first.set()
    return watch.repeats


async def follow_forever(client: AsyncTrackingClient, execution_id: str) -> None:
    async for _ in client.follow_logs(execution_id, timeout=HANG_GUARD):
        pass


async def main(options: dict[str, Any]) -> None:
    counter = ReconnectCounter()
    client_log = logging.getLogger("tracking.client")
    client_log.setLevel(logging.INFO)
    client_log.addHandler(counter)
    address: str = options["address"]
    executions: list[str] = options["executions"]
    deployment: str = options.get("deployment", "")
    count: int = options["count"]
    every: int = options.get("every", 0)
    paused: bool = options.get("paused", False)
    guard: float = options.get("guard", HANG_GUARD)
    clients = [
        AsyncTrackingClient(address, options=channel_options(options.get("bdp", True)), retry=RETRY)
        for _ in range(max(1, count // PER_CHANNEL))
    ]
    go = asyncio.Event()
    if not paused:
        go.set()
    received: list[Received] = []
    tasks: list[asyncio.Task[int]] = []
    firsts: list[asyncio.Event] = []
    for i in range(count):
        client = clients[i % len(clients)]
        if every and i % every == 0:
            scope, wanted = {"deployment_name": deployment}, set(executions)
            name = "deployment"
        else:
            execution_id = executions[i % len(executions)]
            scope, wanted, name = {"execution_id": execution_id}, {execution_id}, execution_id
        received.append(Received(name))
        firsts.append(asyncio.Event())
        tasks.append(
            asyncio.create_task(
                watch_one(client, scope, wanted, received[-1], firsts[-1], go, guard)
            )
        )
    followers = [
        asyncio.create_task(follow_forever(clients[n % len(clients)], execution_id))
        for n in range(options.get("followers", 0))
        for execution_id in executions
    ]
    await asyncio.gather(*(first.wait() for first in firsts))
    print("ready", flush=True)
    if paused:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        go.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for task in followers:
        task.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    errors = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    report = {
        "watchers": [
            {
                "scope": r.scope,
                "snapshots": r.snapshots,
                "runs": r.runs,
                "digests": {key: value.hexdigest() for key, value in r.digests.items()},
            }
            for r in received
        ],
        "repeats": sum(r for r in results if isinstance(r, int)),
        "reconnects": counter.codes,
        "errors": errors,
    }
    print(json.dumps(report), flush=True)
    for client in clients:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
