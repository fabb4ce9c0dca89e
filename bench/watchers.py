"""A process of watchers (or one log follower) that records when each event arrives.

    python -m bench.watchers watch ADDRESS EXECUTION_ID COUNT CHANNELS [unread]
    python -m bench.watchers follow ADDRESS EXECUTION_ID
    python -m bench.watchers replay ADDRESS EXECUTION_ID COUNT

With `unread`, each `watch` stream reads its first message (the snapshot) and nothing more:
a client that stopped reading. Prints "ready" once every stream is open, then runs until stdin closes, then
prints one JSON line: for `watch`, {revision: [receipt times]} summarized as
{revision: [count, last receipt]}; for `follow`, {seq: receipt time}; for `replay`
(COUNT streams each reading the whole log from the start, again and again),
{"replays": how many whole logs were read}.

`watch` never waits without a bound: its ready line is one JSON object, {"opened": N,
"failed": {status code: streams}}, printed once every stream has opened or failed, or
after open_seconds() (streams still opening are then counted as "DEADLINE_EXCEEDED"). Its
last line adds "ended": {code: streams that failed after they opened}.
Times are time.time() (the same clock as the process that writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

import grpc

from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

if TYPE_CHECKING:  # in the type stubs only: TrackingServiceStub of a grpc.aio channel
    from tracking.v1.tracking_service_pb2_grpc import TrackingServiceAsyncStub


async def _stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


def open_seconds(count: int) -> float:
    """How long `count` streams get to open: generous, but never forever."""
    return 30.0 + count / 100


async def watch(
    address: str, execution_id: str, count: int, channel_count: int, unread: bool = False
) -> None:
    channels = [
        grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(channel_count)
    ]
    stubs = [TrackingServiceStub(channel) for channel in channels]
    arrivals: dict[int, list[float]] = defaultdict(list)
    opened = 0
    failed: Counter[str] = Counter()  # before the stream opened
    ended: Counter[str] = Counter()  # after it opened
    settled = asyncio.Event()

    def check() -> None:
        if opened + sum(failed.values()) >= count:
            settled.set()

    async def one(stub: TrackingServiceAsyncStub) -> None:
        nonlocal opened
        first = True
        try:
            call = stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id))
            async for response in call:
                if first:
                    first = False
                    opened += 1
                    check()
                    if unread:
                        await asyncio.Future()  # until cancelled: never reads again
                if response.HasField("event") and not response.event.snapshot:
                    arrivals[response.event.revision].append(time.time())
            code = "ended"  # the server closed it with OK: not expected either
        except grpc.aio.AioRpcError as error:
            code = error.code().name
        (failed if first else ended)[code] += 1
        check()

    tasks = [asyncio.create_task(one(stubs[i % channel_count])) for i in range(count)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(settled.wait(), open_seconds(count))
    if not settled.is_set():
        failed["DEADLINE_EXCEEDED"] += count - opened - sum(failed.values())
    print(json.dumps({"opened": opened, "failed": failed}), flush=True)
    await _stdin_closed()
    summary: dict[str, Any] = {str(r): [len(times), max(times)] for r, times in arrivals.items()}
    print(json.dumps({"revisions": summary, "ended": ended}), flush=True)
    for task in tasks:
        task.cancel()
    for channel in channels:
        await channel.close(None)


async def follow(address: str, execution_id: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        call = TrackingServiceStub(channel).StreamLogs(
            pb.StreamLogsRequest(execution_id=execution_id, follow=True)
        )
        arrivals: dict[int, float] = {}
        ready = False

        async def read() -> None:
            nonlocal ready
            async for response in call:
                now = time.time()
                if not ready:
                    ready = True
                    print("ready", flush=True)
                for entry in response.entries:
                    arrivals[entry.seq] = now

        reader = asyncio.create_task(read())
        await _stdin_closed()
        reader.cancel()
        print(json.dumps(arrivals), flush=True)


async def replay(address: str, execution_id: str, count: int) -> None:
    channels = [
        grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(min(count, 50))
    ]
    done = 0

    async def one(stub: TrackingServiceAsyncStub) -> None:
        nonlocal done
        while True:
            async for _ in stub.StreamLogs(pb.StreamLogsRequest(execution_id=execution_id)):
                pass
            done += 1

    tasks = [
        asyncio.create_task(one(TrackingServiceStub(channels[i % len(channels)])))
        for i in range(count)
    ]
    print("ready", flush=True)
    await _stdin_closed()
    for task in tasks:
        task.cancel()
    print(json.dumps({"replays": done}), flush=True)
    for channel in channels:
        await channel.close(None)


if __name__ == "__main__":
    mode, address, execution_id = sys.argv[1:4]
    if mode == "watch":
        unread = sys.argv[6:] == ["unread"]
        asyncio.run(watch(address, execution_id, int(sys.argv[4]), int(sys.argv[5]), unread))
    elif mode == "replay":
        asyncio.run(replay(address, execution_id, int(sys.argv[4])))
    else:
        asyncio.run(follow(address, execution_id))
