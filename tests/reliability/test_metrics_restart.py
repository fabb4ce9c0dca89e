"""A metric stream survives a SIGKILL, or a drain (SIGTERM), and a restart of the server: the
follower resumes from its last seq and gets every point once, in order, and every
acknowledged point is stored."""

from __future__ import annotations

import threading

import pytest

from tests.support.chaos import free_address
from tests.support.process import ServerProcess
from tests.support.waiting import wait_for
from tracking.client import RetryPolicy, TrackingClient
from tracking.v1 import metric_pb2

BATCH = 25
PATIENT = RetryPolicy(max_attempts=200, initial_backoff=0.05, max_backoff=0.5)


def _log(client: TrackingClient, execution_id: str, batch: int) -> int:
    """Batch n holds the values n * BATCH + i: each point says which seq it should get."""
    return client.log_metrics(
        execution_id, [("loss", float(batch * BATCH + i + 1)) for i in range(BATCH)]
    )


@pytest.mark.parametrize("stop", ["kill", "drain"])
def test_the_metric_stream_resumes_exactly_across_a_sigkill_or_a_drain(
    fresh_database: str, stop: str
) -> None:
    address = free_address()
    server = ServerProcess(fresh_database, address=address).start()
    received: list[metric_pb2.MetricPoint] = []
    failures: list[BaseException] = []
    try:
        with (
            TrackingClient(address) as writer,
            TrackingClient(address, retry=PATIENT) as reader,
        ):
            execution_id = writer.create_execution(pipeline_name="train").execution_id
            writer.start(execution_id)
            acknowledged = [_log(writer, execution_id, batch) for batch in range(4)]

            def follow() -> None:
                try:
                    received.extend(reader.follow_metrics(execution_id, timeout=120))
                except BaseException as error:
                    failures.append(error)

            follower = threading.Thread(target=follow)
            follower.start()
            wait_for(lambda: len(received) == 4 * BATCH, "the stored points")
            if stop == "kill":
                server.kill()
            else:
                assert server.terminate() == 0  # the drain ends the stream UNAVAILABLE
            server = ServerProcess(fresh_database, address=address).start()
            # A connection of its own: the old one waits out its reconnect backoff.
            with TrackingClient(address, options=[("grpc.use_local_subchannel_pool", 1)]) as again:
                acknowledged += [_log(again, execution_id, batch) for batch in range(4, 8)]
                again.stop(execution_id, "success")
                follower.join(120)
                assert not follower.is_alive()
                stored = again.list_metrics(execution_id)
    finally:
        server.kill()
    assert failures == []
    assert acknowledged == [BATCH * n for n in range(1, 9)]
    assert stored.last_seq == 8 * BATCH
    assert [p.seq for p in received] == list(range(1, 8 * BATCH + 1))
    assert all(p.value == float(p.seq) for p in received)
