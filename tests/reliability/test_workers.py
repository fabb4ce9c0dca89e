"""`tracking serve --workers 2`: two processes on one port, on PostgreSQL.

Connections spread over both (each answers with request ids of its own prefix), a change
written through one is seen by a watcher of the other, and SIGTERM to the parent drains
both: the open stream ends with UNAVAILABLE, every process exits, the exit code is 0.
On SQLite more than one worker is refused with the reason.
"""

from __future__ import annotations

import re
import subprocess
import urllib.request
from pathlib import Path

import grpc
import pytest

from tests.support.databases import postgres_database
from tests.support.process import TRACKING, ServerProcess
from tests.support.waiting import wait_for
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

PIDS = re.compile(r"\(2 workers, pids (\d+) (\d+)\)")
# Request ids are a random prefix of each process and a counter (observability.py).
PREFIX = 16


def worker_of(address: str) -> tuple[str, grpc.Channel]:
    """A new connection and the prefix of the worker that answers it."""
    channel = grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
    _, call = TrackingServiceStub(channel).GetServiceInfo.with_call(
        pb.GetServiceInfoRequest(), timeout=10
    )
    request_id = dict(call.initial_metadata())["x-request-id"]
    return str(request_id)[:PREFIX], channel


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_workers_drain_when_their_parent_is_killed() -> None:
    with postgres_database() as url:
        server = ServerProcess(url, serve_args=("--workers", "2")).start()
        try:
            wait_for(lambda: PIDS.search("".join(server.output)), "the workers' pids")
            pids = PIDS.search("".join(server.output))
            assert pids is not None
            server.kill()
            wait_for(
                lambda: not any(alive(int(pid)) for pid in pids.groups()),
                "the workers of a killed parent to stop",
            )
        finally:
            server.kill()


def test_more_than_one_worker_is_refused_on_sqlite(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(TRACKING),
            "serve",
            "--workers",
            "2",
            "--database-url",
            f"sqlite:///{tmp_path / 'tracking.db'}",
            "--address",
            "127.0.0.1:0",
            "--http-address",
            "",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "needs PostgreSQL" in result.stderr
    assert not (tmp_path / "tracking.db").exists()


def test_two_workers_share_the_ports_and_drain_on_sigterm() -> None:
    with postgres_database() as url:
        server = ServerProcess(url, http_address="127.0.0.1:0", serve_args=("--workers", "2"))
        server.start()
        try:
            wait_for(lambda: PIDS.search("".join(server.output)), "the workers' pids")
            pids = PIDS.search("".join(server.output))
            assert pids is not None
            worker_pids = [int(pid) for pid in pids.groups()]
            by_worker: dict[str, grpc.Channel] = {}
            spare: list[grpc.Channel] = []
            for _ in range(64):
                prefix, channel = worker_of(server.address)
                if prefix in by_worker:
                    spare.append(channel)
                else:
                    by_worker[prefix] = channel
                if len(by_worker) == 2:
                    break
            assert len(by_worker) == 2, "64 connections all went to one worker"
            for channel in spare:
                channel.close()
            writer, watcher = (TrackingServiceStub(c) for c in by_worker.values())

            # HTTP connections spread too: the same request ids, over the HTTP port.
            http_prefixes = set()
            for _ in range(64):
                request = urllib.request.Request(
                    f"{server.http_url}/tracking.v1.TrackingService/GetServiceInfo",
                    b"{}",
                    {"content-type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=10) as answer:
                    http_prefixes.add(answer.headers["x-request-id"][:PREFIX])
                if len(http_prefixes) == 2:
                    break
            assert http_prefixes == set(by_worker)

            execution_id = writer.CreateExecution(
                pb.CreateExecutionRequest()
            ).execution.execution_id
            stream = watcher.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id))
            assert next(stream).event.snapshot
            written = writer.UpdateJobStatus(
                pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
            )
            seen = next(stream)
            assert seen.event.revision == written.job_status.revision

            assert server.terminate(timeout=60) == 0
            with pytest.raises(grpc.RpcError) as ended:
                for _ in stream:
                    pass
            assert ended.value.code() is grpc.StatusCode.UNAVAILABLE
            assert not any(alive(pid) for pid in worker_pids)
            output = "".join(server.output)
            assert output.count("draining") == 2, output
            assert "all 2 workers stopped" in output, output
            for channel in by_worker.values():
                channel.close()
        finally:
            server.kill()
