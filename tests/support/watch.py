"""Async watchers and followers for the stream tests (grpc.aio, real channels)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc

from tracking.v1 import tracking_service_pb2 as pb

if TYPE_CHECKING:  # in the type stubs only: TrackingServiceStub of a grpc.aio channel
    from tracking.v1.tracking_service_pb2_grpc import TrackingServiceAsyncStub


@dataclass
class Watcher:
    """Collects the revisions one WatchStatus stream delivers, until it ends."""

    revisions: list[int] = field(default_factory=list)
    snapshot_seen: asyncio.Event = field(default_factory=asyncio.Event)
    error: grpc.StatusCode | None = None
    details: str = ""

    async def run(self, stub: TrackingServiceAsyncStub, request: pb.WatchStatusRequest) -> None:
        try:
            async for response in stub.WatchStatus(request, timeout=300):
                if not response.HasField("event"):
                    continue
                if response.event.snapshot:
                    self.snapshot_seen.set()
                else:
                    self.revisions.append(response.event.revision)
        except grpc.aio.AioRpcError as error:
            self.error = error.code()
            self.details = error.details() or ""
        finally:
            self.snapshot_seen.set()


@dataclass
class Follower:
    """Collects the seqs one StreamLogs stream delivers, until it ends."""

    seqs: list[int] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stub: TrackingServiceAsyncStub, request: pb.StreamLogsRequest) -> None:
        call = stub.StreamLogs(request, timeout=300)
        self.started.set()
        async for response in call:
            self.seqs.extend(entry.seq for entry in response.entries)


def channels(address: str, count: int) -> list[grpc.aio.Channel]:
    # Separate channels are separate HTTP/2 connections, as separate clients would have.
    return [
        grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(count)
    ]
