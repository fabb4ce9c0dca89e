"""Run many WatchStatus watchers in a process of their own.

    python -m tests.support.watch_many ADDRESS EXECUTION_ID COUNT

Prints "ready" once every watcher has its snapshot, then, when every stream
has ended, one JSON line: {"revisions": [[...], ...], "errors": [...]}.
A process of their own gives the watchers their own CPU and GIL, as real
clients have.
"""

from __future__ import annotations

import asyncio
import json
import sys

from tests.support.watch import Watcher, channels
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


async def main(address: str, execution_id: str, count: int) -> None:
    pool = channels(address, max(1, count // 50))
    stubs = [TrackingServiceStub(channel) for channel in pool]
    watchers = [Watcher() for _ in range(count)]
    request = pb.WatchStatusRequest(execution_id=execution_id)
    tasks = [
        asyncio.create_task(w.run(stubs[i % len(stubs)], request)) for i, w in enumerate(watchers)
    ]
    await asyncio.gather(*(w.snapshot_seen.wait() for w in watchers))
    print("ready", flush=True)
    await asyncio.gather(*tasks)
    errors = [f"{w.error.name}: {w.details}" for w in watchers if w.error is not None]
    print(json.dumps({"revisions": [w.revisions for w in watchers], "errors": errors}), flush=True)
    for channel in pool:
        await channel.close(None)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
