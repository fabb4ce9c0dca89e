"""Events reach every subscriber across SIGKILLs: three webhook receivers (slow, failing half
the time, down at first) and a NATS subscription, while executions change and the server is
killed twice. Every event arrives at least once, in revision order per execution, signed,
with duplicates carrying the id of the first delivery. TRACKING_CHAOS=full (make chaos) runs
it at full size: 1,000 changes over 50 executions, a receiver down for 20 s."""

from __future__ import annotations

import functools
import json
import random
import socket
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.support.chaos import FULL
from tests.support.databases import BACKENDS, database_url
from tests.support.jetstream import fresh_subject, read_published
from tests.support.process import ServerProcess
from tests.support.receiver import Answer, Received, Receiver
from tests.support.subscribing import data, subscribe_webhook, verified_event
from tests.support.waiting import wait_for
from tracking.service.domain.subscriptions import stream_name
from tracking.v1 import status_pb2, subscription_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

EXECUTIONS = 50 if FULL else 10
CHANGES = 1000 if FULL else 120
DOWN_SECONDS = 20.0 if FULL else 3.0
KILLS = 2
# Events a worker may have sent and not yet recorded when it is killed: one batch.
BATCH = 500

pytestmark = [pytest.mark.slow, pytest.mark.chaos, pytest.mark.timeout(1800 if FULL else 300)]


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(str(request.param), tmp_path) as url:
        yield url


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(database: str) -> ServerProcess:
    return ServerProcess(
        database,
        TRACKING_OUTBOUND_ALLOW_PRIVATE_ADDRESSES="true",
        TRACKING_OUTBOUND_RETRY_BASE_SECONDS="0.05",
        TRACKING_OUTBOUND_RETRY_MAX_SECONDS="1",
        TRACKING_OUTBOUND_LEASE_SECONDS="2",
    ).start()


def _changes(
    stub: TrackingServiceStub, executions: list[str], count: int, rng: random.Random
) -> None:
    """`count` acknowledged changes of progress, spread over the executions."""
    for index in range(count):
        execution_id = rng.choice(executions)
        stub.UpdateJobStatus(
            pb.UpdateJobStatusRequest(
                execution_id=execution_id,
                progress=pb.ProgressAction(progress=(index % 100) / 100, phase=f"p{index}"),
            )
        )


def _has_all(receiver: Receiver, total: int) -> bool:
    return len({request.headers["webhook-id"] for request in receiver.bodies()}) >= total


def _check_webhook(received: list[Received], secret: str, expected: dict[str, int]) -> int:
    """Asserts the delivery promises for one receiver; returns how many duplicates came."""
    arrivals: dict[str, list[int]] = defaultdict(list)
    ids: dict[tuple[str, int], str] = {}
    for request in received:
        event = verified_event(request, secret)
        key = (event.get_subject() or "", int(data(event)["revision"]))
        assert ids.setdefault(key, event.get_id()) == event.get_id(), "a duplicate with another id"
        arrivals[key[0]].append(key[1])
    return _check_order(arrivals, expected)


def _check_order(arrivals: dict[str, list[int]], expected: dict[str, int]) -> int:
    duplicates = 0
    for execution_id, last in expected.items():
        seen = arrivals.get(execution_id, [])
        first_arrivals = list(dict.fromkeys(seen))
        assert first_arrivals == list(range(1, last + 1)), execution_id
        duplicates += len(seen) - len(first_arrivals)
        # A duplicate repeats what came before (a replay from the cursor), never skips ahead.
        highest = 0
        for revision in seen:
            assert revision <= highest + 1, (execution_id, seen)
            highest = max(highest, revision)
    return duplicates


def test_every_event_reaches_every_subscriber_across_kills(database: str) -> None:
    rng = random.Random(7)
    slow = Receiver(lambda _: Answer(delay=0.02)).start()
    flaky = Receiver(lambda _: Answer(500 if rng.random() < 0.5 else 204)).start()
    down_port = _free_port()
    late: list[Receiver] = []
    server = _serve(database)
    try:
        with fresh_subject() as subject:
            stub = TrackingServiceStub(grpc.insecure_channel(server.address))
            secrets = {
                "slow": subscribe_webhook(stub, slow.url)[1],
                "flaky": subscribe_webhook(stub, flaky.url)[1],
                "down": subscribe_webhook(stub, f"http://127.0.0.1:{down_port}/hook")[1],
            }
            stub.CreateSubscription(
                pb.CreateSubscriptionRequest(
                    subscription=subscription_pb2.Subscription(
                        name="bus", nats=subscription_pb2.NatsTarget(subject=subject)
                    )
                )
            )
            opened = threading.Timer(
                DOWN_SECONDS, lambda: late.append(Receiver(port=down_port).start())
            )
            opened.start()
            executions = []
            for _ in range(EXECUTIONS):
                execution_id = stub.CreateExecution(
                    pb.CreateExecutionRequest()
                ).execution.execution_id
                stub.UpdateJobStatus(
                    pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
                )
                executions.append(execution_id)
            per_phase = CHANGES // (KILLS + 1)
            for _ in range(KILLS):
                _changes(stub, executions, per_phase, rng)
                # Killed while the slow and failing receivers are still behind.
                server.kill()
                server = _serve(database)
                stub = TrackingServiceStub(grpc.insecure_channel(server.address))
            _changes(stub, executions, CHANGES - KILLS * per_phase, rng)
            for execution_id in executions:
                stub.UpdateJobStatus(
                    pb.UpdateJobStatusRequest(
                        execution_id=execution_id,
                        stop=pb.StopAction(cause=status_pb2.RUNNING_STATUS_SUCCESS),
                    )
                )
            expected = {
                execution_id: stub.GetJobStatus(
                    pb.GetJobStatusRequest(execution_id=execution_id)
                ).job_status.revision
                for execution_id in executions
            }
            total = sum(expected.values())
            opened.join()
            down = late[0]
            for name, receiver in (("slow", slow), ("flaky", flaky), ("down", down)):
                wait_for(
                    functools.partial(_has_all, receiver, total),
                    f"every event at the {name} receiver",
                )
                duplicates = _check_webhook(receiver.bodies(), secrets[name], expected)
                assert duplicates <= KILLS * BATCH, name
            published = read_published(stream_name(subject), subject, at_least=total)
            arrivals: dict[str, list[int]] = defaultdict(list)
            for message in published:
                event_data = json.loads(message.body)["data"]
                arrivals[event_data["executionId"]].append(int(event_data["revision"]))
            _check_order(arrivals, expected)
    finally:
        server.kill()
        for receiver in (slow, flaky, *late):
            receiver.stop()
