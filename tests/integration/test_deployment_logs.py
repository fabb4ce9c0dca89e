"""StreamLogs of a whole deployment: every line of every execution, filters, follow, tokens."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator

import grpc
import pytest

from tests.conftest import ServerFactory
from tests.support.factories import (
    create_deployment,
    create_execution,
    start,
    stop,
    violations,
)
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

Line = tuple[str, int, str]  # execution_id, seq, message


def append(stub: TrackingServiceStub, execution_id: str, *messages: str, step: str = "") -> None:
    entries = [epb.LogEntry(message=m, step_name=step) for m in messages]
    stub.AppendLogs(pb.AppendLogsRequest(execution_id=execution_id, entries=entries))


def stream(stub: TrackingServiceStub, **fields: object) -> Iterator[pb.StreamLogsResponse]:
    return stub.StreamLogs(pb.StreamLogsRequest(**fields), timeout=60)


def lines_of(responses: Iterable[pb.StreamLogsResponse]) -> list[Line]:
    return [(e.execution_id, e.seq, e.message) for r in responses for e in r.entries]


def by_execution(lines: list[Line]) -> dict[str, list[tuple[int, str]]]:
    grouped: dict[str, list[tuple[int, str]]] = {}
    for execution_id, seq, message in lines:
        grouped.setdefault(execution_id, []).append((seq, message))
    return grouped


def next_entries(responses: Iterator[pb.StreamLogsResponse]) -> pb.StreamLogsResponse:
    """The next response with lines (heartbeats skipped)."""
    for response in responses:
        if response.entries:
            return response
    raise AssertionError("the stream ended")


def test_every_line_of_every_execution_once_with_its_execution_id(
    stub: TrackingServiceStub,
) -> None:
    deployment = create_deployment(stub).name
    ended = create_execution(stub, deployment_name=deployment).execution_id
    running = create_execution(stub, deployment_name=deployment).execution_id
    create_execution(stub, deployment_name=deployment)  # no lines yet
    elsewhere = create_execution(stub, deployment_name=create_deployment(stub).name).execution_id
    for execution_id in (ended, running, elsewhere):
        start(stub, execution_id)
    append(stub, ended, *[f"e{i}" for i in range(700)], step="train")
    stop(stub, ended)
    append(stub, running, "r0", "r1")
    responses = list(stream(stub, deployment_name=deployment))
    assert by_execution(lines_of(responses)) == {
        ended: [(i + 1, f"e{i}") for i in range(700)],
        running: [(1, "r0"), (2, "r1")],
    }
    assert {e.step_name for r in responses for e in r.entries if e.execution_id == ended} == {
        "train"
    }
    assert all(r.resume_token for r in responses)
    assert all(len({e.execution_id for e in r.entries}) == 1 for r in responses)


def test_tail_counts_per_execution_and_filters_apply(stub: TrackingServiceStub) -> None:
    deployment = create_deployment(stub).name
    first = create_execution(stub, deployment_name=deployment).execution_id
    second = create_execution(stub, deployment_name=deployment).execution_id
    append(stub, first, "a ok", "a fail 1", "a fail 2", "a fail 3")
    append(stub, second, "b fail 1", "b ok")
    stub.AppendLogs(
        pb.AppendLogsRequest(
            execution_id=second,
            entries=[epb.LogEntry(message="b fail on stderr", stream=epb.LOG_STREAM_STDERR)],
        )
    )
    tailed = by_execution(lines_of(stream(stub, deployment_name=deployment, tail=2)))
    assert tailed == {
        first: [(3, "a fail 2"), (4, "a fail 3")],
        second: [(2, "b ok"), (3, "b fail on stderr")],
    }
    matching = lines_of(stream(stub, deployment_name=deployment, pattern=r"fail \d$", tail=1))
    assert by_execution(matching) == {first: [(4, "a fail 3")], second: [(1, "b fail 1")]}
    stdout = lines_of(
        stream(stub, deployment_name=deployment, contains="fail", stream=epb.LOG_STREAM_STDOUT)
    )
    assert [m for _, _, m in stdout] == ["a fail 1", "a fail 2", "a fail 3", "b fail 1"]


def test_follow_takes_up_new_executions_until_the_deployment_is_deleted(
    stub: TrackingServiceStub,
) -> None:
    deployment = create_deployment(stub).name
    responses = stream(stub, deployment_name=deployment, follow=True)
    assert next(responses).HasField("heartbeat")  # open, and nothing to send
    later = create_execution(stub, deployment_name=deployment).execution_id
    start(stub, later)
    append(stub, later, "hello")
    assert lines_of([next_entries(responses)]) == [(later, 1, "hello")]
    stop(stub, later)
    again = create_execution(stub, deployment_name=deployment).execution_id
    start(stub, again)
    append(stub, again, "second")
    assert lines_of([next_entries(responses)]) == [(again, 1, "second")]
    stub.DeleteDeployment(pb.DeleteDeploymentRequest(name=deployment))
    assert lines_of(responses) == []  # ends with OK


def test_an_empty_deployment_stream_ends_when_the_deployment_is_deleted(
    stub: TrackingServiceStub,
) -> None:
    deployment = create_deployment(stub).name
    responses = stream(stub, deployment_name=deployment, follow=True)
    assert next(responses).HasField("heartbeat")
    stub.DeleteDeployment(pb.DeleteDeploymentRequest(name=deployment))
    assert lines_of(responses) == []


def test_a_resume_token_continues_right_after_its_response(stub: TrackingServiceStub) -> None:
    deployment = create_deployment(stub).name
    executions = [create_execution(stub, deployment_name=deployment).execution_id for _ in range(3)]
    for index, execution_id in enumerate(executions):
        start(stub, execution_id)
        append(stub, execution_id, *[f"{index}:{i}" for i in range(1200)])
    stop(stub, executions[0])
    responses = list(stream(stub, deployment_name=deployment, contains="7"))
    everything = lines_of(responses)
    assert len(responses) > 3
    for cut, response in enumerate(responses):
        resumed = lines_of(
            stream(
                stub, deployment_name=deployment, contains="7", resume_token=response.resume_token
            )
        )
        # Each execution's lines in order; executions interleave as their batches come.
        assert by_execution(resumed) == by_execution(lines_of(responses[cut + 1 :]))
    # A token stays small: ended executions whose lines were sent are not in it.
    assert len(responses[-1].resume_token) < 400
    assert len(everything) == len(set(everything))


def test_a_followed_stream_resumes_with_only_the_new_lines(stub: TrackingServiceStub) -> None:
    deployment = create_deployment(stub).name
    execution_id = create_execution(stub, deployment_name=deployment).execution_id
    start(stub, execution_id)
    append(stub, execution_id, "before")
    first = stream(stub, deployment_name=deployment, follow=True)
    token = next_entries(first).resume_token
    first.cancel()  # type: ignore[attr-defined]
    append(stub, execution_id, "while away")
    newcomer = create_execution(stub, deployment_name=deployment).execution_id
    start(stub, newcomer)
    append(stub, newcomer, "new")
    stop(stub, execution_id)
    stop(stub, newcomer)
    resumed = stream(stub, deployment_name=deployment, resume_token=token, follow=False)
    assert by_execution(lines_of(resumed)) == {
        execution_id: [(2, "while away")],
        newcomer: [(1, "new")],
    }


def test_a_resume_token_survives_a_server_restart(make_server: ServerFactory) -> None:
    server = make_server()
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        deployment = create_deployment(stub).name
        execution_id = create_execution(stub, deployment_name=deployment).execution_id
        start(stub, execution_id)
        append(stub, execution_id, "one")
        token = next_entries(stream(stub, deployment_name=deployment)).resume_token
        append(stub, execution_id, "two")
    server.stop()
    again = make_server()
    with grpc.insecure_channel(again.address) as channel:
        stub = TrackingServiceStub(channel)
        resumed = stream(stub, deployment_name=deployment, resume_token=token)
        assert lines_of(resumed) == [(execution_id, 2, "two")]


def altered(token: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[-3] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_bad_deployment_streams(stub: TrackingServiceStub) -> None:
    deployment = create_deployment(stub).name
    execution_id = create_execution(stub, deployment_name=deployment).execution_id
    append(stub, execution_id, "x")
    token = next_entries(stream(stub, deployment_name=deployment)).resume_token
    cases: list[tuple[dict[str, object], str]] = [
        ({"deployment_name": deployment, "execution_id": execution_id}, "deployment_name"),
        ({}, "execution_id"),
        ({"deployment_name": deployment, "after_seq": 1}, "after_seq"),
        ({"deployment_name": deployment, "resume_token": altered(token)}, "resume_token"),
        ({"deployment_name": deployment, "resume_token": "garbage"}, "resume_token"),
        ({"deployment_name": deployment, "resume_token": token, "contains": "y"}, "resume_token"),
        ({"execution_id": execution_id, "resume_token": token}, "resume_token"),
        ({"deployment_name": deployment, "pattern": "(x"}, "pattern"),
        ({"deployment_name": deployment, "tail": -1}, "tail"),
        ({"deployment_name": "Not A Name"}, "deployment_name"),
    ]
    for fields, field in cases:
        with pytest.raises(grpc.RpcError) as caught:
            list(stream(stub, **fields))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, fields
        assert field in violations(caught.value), fields
    with pytest.raises(grpc.RpcError) as caught:
        list(stream(stub, deployment_name="no-such-deployment"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
