"""Deletes racing other writes on the same executions: each call gets a precise answer (on
PostgreSQL two transactions that lock the same rows in different orders deadlock, and
the loser must be tried again, never answered INTERNAL)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from functools import partial

import grpc

from tests.support.factories import create_deployment, create_execution, start
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

ROUNDS = 10
EXECUTIONS = 16
# Every answer a call racing a delete may get: it ran before, or it found nothing.
EXPECTED = {grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND}


def _code(call: Callable[[object], object], request: object) -> grpc.StatusCode:
    try:
        call(request)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def _race(
    stub: TrackingServiceStub, delete: Callable[[], object], ids: list[str], name: str
) -> Counter[grpc.StatusCode]:
    """Writers on every execution (progress, logs, creations in the deployment) while
    `delete` runs once they have all begun; the codes every call got."""
    codes: Counter[grpc.StatusCode] = Counter()
    begun = threading.Barrier(len(ids) + 2, timeout=60)
    lock = threading.Lock()

    def write(execution_id: str) -> None:
        progress = pb.UpdateJobStatusRequest(
            execution_id=execution_id, progress=pb.ProgressAction(progress=0.5, phase="fit")
        )
        logs = pb.AppendLogsRequest(
            execution_id=execution_id, entries=[epb.LogEntry(message="line")] * 5
        )
        for turn in range(40):
            if turn == 2:
                begun.wait()
            code = _code(stub.UpdateJobStatus, progress)
            more = _code(stub.AppendLogs, logs)
            with lock:
                codes.update([code, more])
            if code == more == grpc.StatusCode.NOT_FOUND and turn > 2:
                return

    def create() -> None:
        for turn in range(20):
            if turn == 2:
                begun.wait()
            request = pb.CreateExecutionRequest(execution=epb.Execution(deployment_name=name))
            code = _code(stub.CreateExecution, request)
            with lock:
                codes[code] += 1

    threads = [threading.Thread(target=write, args=(i,)) for i in ids]
    threads.append(threading.Thread(target=create))
    for thread in threads:
        thread.start()
    begun.wait()
    codes[_code(lambda _: delete(), None)] += 1
    for thread in threads:
        thread.join()
    return codes


def _delete_each(stub: TrackingServiceStub, ids: list[str]) -> None:
    for execution_id in reversed(ids):
        stub.DeleteExecution(pb.DeleteExecutionRequest(execution_id=execution_id))


def test_deleting_a_deployment_while_its_executions_are_written(stub: TrackingServiceStub) -> None:
    seen: Counter[grpc.StatusCode] = Counter()
    for _ in range(ROUNDS):
        name = create_deployment(stub).name
        ids = [create_execution(stub, deployment_name=name).execution_id for _ in range(EXECUTIONS)]
        for execution_id in ids:
            start(stub, execution_id)
        delete = partial(stub.DeleteDeployment, pb.DeleteDeploymentRequest(name=name))
        seen += _race(stub, delete, ids, name)
    assert set(seen) <= EXPECTED, seen


def test_deleting_executions_while_they_are_written(stub: TrackingServiceStub) -> None:
    seen: Counter[grpc.StatusCode] = Counter()
    for _ in range(ROUNDS):
        name = create_deployment(stub).name
        ids = [create_execution(stub, deployment_name=name).execution_id for _ in range(EXECUTIONS)]
        for execution_id in ids:
            start(stub, execution_id)
        seen += _race(stub, partial(_delete_each, stub, ids), ids, name)
    assert set(seen) <= EXPECTED, seen
