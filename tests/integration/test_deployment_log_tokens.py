"""The resume tokens of a deployment-wide log stream stay small however many executions
run at once (a browser sends one back as its Last-Event-ID), and each resumes right after
its line: every line once."""

from __future__ import annotations

import httpx

from tests.support.factories import create_deployment, create_execution, start
from tests.support.http import EventReader
from tests.support.server import ServerThread
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

RUNNING = 150
# domain/deployment_log_cursor.MAX_TOKEN_EXECUTIONS executions of 128 characters at most.
MAX_TOKEN = 4096


def running_deployment(stub: TrackingServiceStub) -> tuple[str, set[tuple[str, str]]]:
    """A deployment of RUNNING executions that all still run, a line each."""
    name = create_deployment(stub).name
    lines: set[tuple[str, str]] = set()
    for index in range(RUNNING):
        execution_id = create_execution(stub, deployment_name=name).execution_id
        start(stub, execution_id)
        entries = [epb.LogEntry(message=f"line {index}")]
        stub.AppendLogs(pb.AppendLogsRequest(execution_id=execution_id, entries=entries))
        lines.add((execution_id, f"line {index}"))
    return name, lines


def stream(stub: TrackingServiceStub, name: str, token: str = "") -> list[pb.StreamLogsResponse]:
    request = pb.StreamLogsRequest(deployment_name=name, follow=False, resume_token=token)
    return [r for r in stub.StreamLogs(request, timeout=60) if r.entries]


def lines_of(responses: list[pb.StreamLogsResponse]) -> list[tuple[str, str]]:
    return [(e.execution_id, e.message) for r in responses for e in r.entries]


def test_tokens_stay_small_with_many_running_executions_and_resume_exactly(
    stub: TrackingServiceStub,
) -> None:
    name, lines = running_deployment(stub)
    responses = stream(stub, name)
    assert sorted(lines_of(responses)) == sorted(lines)
    longest = max(len(r.resume_token) for r in responses)
    assert longest <= MAX_TOKEN, longest
    for cut in range(0, len(responses), 13):
        sent = lines_of(responses[: cut + 1])
        rest = lines_of(stream(stub, name, responses[cut].resume_token))
        assert sorted(sent + rest) == sorted(lines), cut


def test_a_browser_resumes_a_stream_of_many_executions(
    stub: TrackingServiceStub, server: ServerThread
) -> None:
    name, lines = running_deployment(stub)
    path = f"/events/StreamLogs?deployment_name={name}&follow=false"
    with httpx.Client(base_url=server.http_url, timeout=60) as client:
        with client.stream("GET", path) as first:
            taken = EventReader(first).take(RUNNING // 2)
        last_id = taken[-1].id
        assert len(last_id) <= MAX_TOKEN
        with client.stream("GET", path, headers={"last-event-id": last_id}) as again:
            assert again.status_code == 200
            rest = [e for e in EventReader(again).rest() if e.kind != "end"]
    seen = [
        (entry["executionId"], entry["message"])
        for event in taken + rest
        for entry in event.data["entries"]
    ]
    assert sorted(seen) == sorted(lines)
