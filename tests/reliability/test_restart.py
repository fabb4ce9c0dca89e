"""A server killed with SIGKILL and started again loses nothing acknowledged, and watchers resume exactly."""

from __future__ import annotations

import grpc

from tests.support.process import ServerProcess
from tests.support.waiting import wait_for
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import status_pb2 as spb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def _progress(stub: TrackingServiceStub, execution_id: str, value: float) -> int:
    response = stub.UpdateJobStatus(
        pb.UpdateJobStatusRequest(
            execution_id=execution_id, progress=pb.ProgressAction(progress=value)
        )
    )
    return int(response.job_status.revision)


def test_watch_resumes_exactly_across_a_sigkill(fresh_database: str) -> None:
    first = ServerProcess(fresh_database).start()
    try:
        with grpc.insecure_channel(first.address) as channel:
            stub = TrackingServiceStub(channel)
            execution_id = stub.CreateExecution(pb.CreateExecutionRequest()).execution.execution_id
            watch = stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=60)
            assert next(watch).event.snapshot
            stub.UpdateJobStatus(
                pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
            )
            acknowledged = [_progress(stub, execution_id, i / 100) for i in range(1, 6)]
            stub.AppendLogs(
                pb.AppendLogsRequest(
                    execution_id=execution_id,
                    entries=[epb.LogEntry(message=f"l{i}") for i in range(3)],
                )
            )
            received = []
            for response in watch:
                if response.HasField("event"):
                    received.append(response.event.revision)
                if len(received) == 3:
                    break
            first.kill()
    finally:
        first.kill()
    assert received == [2, 3, 4]
    assert acknowledged == [3, 4, 5, 6, 7]

    second = ServerProcess(fresh_database).start()
    try:
        with grpc.insecure_channel(second.address) as channel:
            stub = TrackingServiceStub(channel)
            assert _progress(stub, execution_id, 0.9) == 8
            stub.UpdateJobStatus(
                pb.UpdateJobStatusRequest(
                    execution_id=execution_id, stop=pb.StopAction(cause=spb.RUNNING_STATUS_SUCCESS)
                )
            )
            resumed = [
                r.event.revision
                for r in stub.WatchStatus(
                    pb.WatchStatusRequest(execution_id=execution_id, after_revision=received[-1]),
                    timeout=60,
                )
                if r.HasField("event")
            ]
            lines = stub.GetExecutionLogs(
                pb.GetExecutionLogsRequest(execution_id=execution_id)
            ).entries
    finally:
        second.kill()
    assert resumed == [5, 6, 7, 8, 9]
    assert [(line.seq, line.message) for line in lines] == [(1, "l0"), (2, "l1"), (3, "l2")]


def test_sigterm_drains_and_exits_zero(fresh_database: str) -> None:
    server = ServerProcess(fresh_database).start()
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = stub.CreateExecution(pb.CreateExecutionRequest()).execution.execution_id
        watch = stub.WatchStatus(pb.WatchStatusRequest(execution_id=execution_id), timeout=60)
        assert next(watch).event.snapshot
        assert server.terminate() == 0
        try:
            for _ in watch:
                pass
            ended = grpc.StatusCode.OK
        except grpc.RpcError as error:
            ended = error.code()
    assert ended == grpc.StatusCode.UNAVAILABLE
    assert any("stopped" in line for line in server.output)


def test_sigterm_lets_in_flight_writes_finish_and_keeps_every_acknowledged_line(
    fresh_database: str,
) -> None:
    import threading

    server = ServerProcess(fresh_database).start()
    acknowledged: list[int] = []
    refused: list[grpc.StatusCode] = []
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = stub.CreateExecution(pb.CreateExecutionRequest()).execution.execution_id
        stub.UpdateJobStatus(
            pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
        )
        batch = pb.AppendLogsRequest(
            execution_id=execution_id,
            entries=[epb.LogEntry(message="x" * 200) for _ in range(2000)],
        )
        stop_writing = threading.Event()

        def write() -> None:
            while not stop_writing.is_set():
                try:
                    acknowledged.append(stub.AppendLogs(batch, timeout=30).last_seq)
                except grpc.RpcError as error:
                    refused.append(error.code())
                    return

        writers = [threading.Thread(target=write) for _ in range(4)]
        for writer in writers:
            writer.start()
        wait_for(lambda: len(acknowledged) >= 4, "four acknowledged batches")
        exit_code = server.terminate()
        stop_writing.set()
        for writer in writers:
            writer.join(60)
    assert exit_code == 0
    # A call that reaches the server as it stops accepting is refused (UNAVAILABLE) or, when
    # its handler had not started yet, cancelled; neither was acknowledged, both can be retried.
    assert set(refused) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
    restarted = ServerProcess(fresh_database).start()
    try:
        with grpc.insecure_channel(restarted.address) as channel:
            stub = TrackingServiceStub(channel)
            stored = stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id)).execution
            last = stub.GetExecutionLogs(
                pb.GetExecutionLogsRequest(
                    execution_id=execution_id, after_seq=max(acknowledged) - 1
                )
            ).entries
    finally:
        restarted.kill()
    # Every acknowledged batch is stored; nothing beyond what was acknowledged or in flight.
    assert [entry.seq for entry in last][:1] == [max(acknowledged)]
    assert stored.job_status.revision == 2
