"""The baseline: a TrackingService that does nothing but answer.

It answers each unary RPC with a canned response of the same size as the real
server's, and broadcasts to its WatchStatus / StreamLogs streams whatever
UpdateJobStatus / AppendLogs send it, with no storage in between. The real
server is measured against it, on the same machine, with the same clients.

    python -m bench.echo_server PORT
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import grpc

from tracking.v1 import execution_pb2 as epb
from tracking.v1 import status_pb2 as spb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1 import tracking_service_pb2_grpc


def canned_status(revision: int = 1) -> spb.JobStatus:
    status = spb.JobStatus(
        status=spb.RUNNING_STATUS_RUNNING, progress=0.5, phase="epoch 5", revision=revision
    )
    for field in (status.create_time, status.start_time, status.update_time):
        field.GetCurrentTime()
    status.duration.FromSeconds(12)
    return status


def canned_execution(index: int) -> epb.Execution:
    return epb.Execution(
        execution_id=f"bench-exec-{index:06d}",
        deployment_name="bench",
        pipeline_name="bench-pipeline",
        job_name="fit",
        job_type=epb.JOB_TYPE_TRAIN,
        job_status=canned_status(),
        labels={"team": "bench"},
        created_by="anonymous",
    )


class Echo(tracking_service_pb2_grpc.TrackingServiceServicer):
    def __init__(self) -> None:
        self.watchers: set[asyncio.Queue[Any]] = set()
        self.followers: set[asyncio.Queue[Any]] = set()
        self.revision = 1
        self.seq = 0
        self.page = pb.ListExecutionsResponse(executions=[canned_execution(i) for i in range(100)])

    async def CreateExecution(self, request: Any, context: Any) -> pb.CreateExecutionResponse:
        return pb.CreateExecutionResponse(execution=canned_execution(0))

    async def GetJobStatus(self, request: Any, context: Any) -> pb.GetJobStatusResponse:
        return pb.GetJobStatusResponse(job_status=canned_status())

    async def ListExecutions(self, request: Any, context: Any) -> pb.ListExecutionsResponse:
        return self.page

    async def UpdateJobStatus(self, request: Any, context: Any) -> pb.UpdateJobStatusResponse:
        self.revision += 1
        status = canned_status(self.revision)
        if request.HasField("progress"):
            status.progress = request.progress.progress
            status.phase = request.progress.phase
        event = pb.WatchStatusResponse(
            event=epb.ExecutionEvent(
                execution_id=request.execution_id,
                revision=self.revision,
                job_status=status,
                changes=["CHANGE_KIND_PROGRESS"],
            )
        ).SerializeToString()
        for queue in self.watchers:
            queue.put_nowait(event)
        return pb.UpdateJobStatusResponse(job_status=status)

    async def AppendLogs(self, request: Any, context: Any) -> pb.AppendLogsResponse:
        entries = []
        for entry in request.entries:
            self.seq += 1
            stored = epb.LogEntry()
            stored.CopyFrom(entry)
            stored.seq = self.seq
            entries.append(stored)
        batch = pb.StreamLogsResponse(entries=entries).SerializeToString()
        for queue in self.followers:
            queue.put_nowait(batch)
        return pb.AppendLogsResponse(last_seq=self.seq)

    # Streams send pre-serialized responses, as the real server's do (registration.py).
    async def WatchStatus(  # type: ignore[override]
        self, request: Any, context: Any
    ) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.watchers.add(queue)
        try:
            yield pb.WatchStatusResponse(
                event=epb.ExecutionEvent(
                    execution_id=request.execution_id,
                    revision=self.revision,
                    job_status=canned_status(),
                    snapshot=True,
                )
            ).SerializeToString()
            while True:
                yield await queue.get()
        finally:
            self.watchers.discard(queue)

    async def StreamLogs(  # type: ignore[override]
        self, request: Any, context: Any
    ) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.followers.add(queue)
        try:
            yield pb.StreamLogsResponse().SerializeToString()
            while True:
                yield await queue.get()
        finally:
            self.followers.discard(queue)


async def main(port: int) -> None:
    from tracking.service.api.registration import compose, register

    server = grpc.aio.server(
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_concurrent_streams", 100000),
            # As the real server's: a burst of stream opens waits instead of being refused.
            ("grpc.server.max_pending_requests", 1000000),
            ("grpc.server.max_pending_requests_hard_limit", 2000000),
        ]
    )
    # The methods the bench does not call keep the base's UNIMPLEMENTED answer.
    register(compose(Echo()), server)  # type: ignore[abstract]
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print(f"serving on 127.0.0.1:{bound}", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
