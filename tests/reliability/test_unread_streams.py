"""Streams that replay a long log: what one that never reads costs, and that a storm of them
is served in turns.

Memory is read from the server process (/proc), once all the streams are open: it measures
what the server holds for them, not how fast anything is.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from tests.support.chaos import rss_kib
from tests.support.process import ServerProcess
from tests.support.waiting import wait_for
from tracking.client import TrackingClient
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

STREAMS = 50
LOG_LINES = 4000  # of 1,000 characters: a 4 MB log
# Before batches were small, an unread stream held about 1.3 MB of a log like this one.
MAX_KIB_PER_UNREAD_STREAM = 800


@pytest.fixture
def long_log(fresh_database: str) -> Iterator[tuple[ServerProcess, str]]:
    server = ServerProcess(fresh_database).start()
    try:
        with TrackingClient(server.address) as client:
            execution_id = client.create_execution(pipeline_name="replay").execution_id
            client.start(execution_id)
            for _ in range(LOG_LINES // 1000):
                client.append_logs(execution_id, ["x" * 1000] * 1000)
        yield server, execution_id
    finally:
        server.kill()


def settled_rss(server: ServerProcess) -> int:
    """The server's RSS once it stopped changing (sends and frees have run their course)."""
    process = server.process
    assert process is not None
    samples = [rss_kib(process.pid)]

    def settled() -> bool:
        samples.append(rss_kib(process.pid))
        return abs(samples[-1] - samples[-2]) < 256

    wait_for(settled, "the server's RSS to settle", every=0.5)
    return samples[-1]


def test_a_stream_that_never_reads_holds_one_small_batch(
    long_log: tuple[ServerProcess, str],
) -> None:
    server, execution_id = long_log
    before = settled_rss(server)
    channels = [
        grpc.insecure_channel(server.address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(STREAMS)
    ]
    try:
        request = pb.StreamLogsRequest(execution_id=execution_id, follow=True)
        streams = [TrackingServiceStub(channel).StreamLogs(request) for channel in channels]
        for stream in streams:
            next(stream)  # open, and the server has sent what the client window allows
        after = settled_rss(server)
        assert (after - before) / STREAMS < MAX_KIB_PER_UNREAD_STREAM, (before, after)
    finally:
        for channel in channels:
            channel.close()


def test_a_storm_of_replays_is_served_in_turns_and_every_replay_is_whole(
    fresh_database: str,
) -> None:
    server = ServerProcess(fresh_database, TRACKING_MAX_CONCURRENT_LOG_READS="1").start()
    try:
        with TrackingClient(server.address) as client:
            execution_id = client.create_execution(pipeline_name="replay").execution_id
            client.start(execution_id)
            client.append_logs(execution_id, [f"line {i}" for i in range(2000)])
            request = pb.StreamLogsRequest(execution_id=execution_id)
            with grpc.insecure_channel(server.address) as channel:
                stub = TrackingServiceStub(channel)
                replays = [stub.StreamLogs(request) for _ in range(30)]
                # A plain call is answered while thirty replays wait for their turns.
                assert client.get_job_status(execution_id).status == 2  # RUNNING
                for replay in replays:
                    seqs = [e.seq for r in replay for e in r.entries]
                    assert seqs == list(range(1, 2001))
    finally:
        server.kill()
