"""The HTTP side through a real HTTP client: every unary RPC as Connect JSON (and binary),
the error mapping, bad input, and the streams as server-sent events."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import grpc
import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.certs import make_pki
from tests.support.factories import unique
from tests.support.http import SERVICE, EventReader, call, events, violations
from tests.support.server import ServerThread
from tests.support.waiting import wait_for
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.http_url, timeout=30) as client:
        yield client


def new_execution(http: httpx.Client, **fields: Any) -> str:
    body = call(http, "CreateExecution", {"execution": {"job_name": unique("job"), **fields}})
    return str(body["execution"]["executionId"])


def report(http: httpx.Client, execution_id: str, **action: Any) -> Any:
    return call(http, "UpdateJobStatus", {"execution_id": execution_id, **action})


def test_every_unary_rpc_answers_over_http_json(http: httpx.Client) -> None:
    name = unique("dep")
    deployment = {"name": name, "pipeline_name": name, "execution_rule": "EXECUTION_RULE_ENDPOINT"}
    assert call(http, "CreateDeployment", {"deployment": deployment})["deployment"]["name"] == name
    assert call(http, "GetDeployment", {"name": name})["deployment"]["pipelineName"] == name
    listed = call(http, "ListDeployments", {"filter": f'pipeline_name = "{name}"'})
    assert [d["name"] for d in listed["deployments"]] == [name]
    updated = call(
        http,
        "UpdateDeployment",
        {"deployment": {"name": name, "description": "nightly"}, "update_mask": "description"},
    )
    assert updated["deployment"]["description"] == "nightly"

    created = call(
        http,
        "CreateExecution",
        {
            "execution": {
                "deployment_name": name,
                "job_name": "train",
                "inputs": [{"name": "rows", "value": 3}],
            }
        },
    )["execution"]
    execution_id = created["executionId"]
    assert created["jobStatus"]["status"] == "RUNNING_STATUS_WAITING"
    assert call(http, "GetExecution", {"execution_id": execution_id})["execution"]["jobName"] == (
        "train"
    )
    listed = call(http, "ListExecutions", {"filter": f'deployment_name = "{name}"'})
    assert [e["executionId"] for e in listed["executions"]] == [execution_id]
    found = call(http, "GetExecutionInput", {"execution_id": execution_id, "input_name": "rows"})
    assert found["input"]["value"] == 3

    assert report(http, execution_id, start={})["jobStatus"]["status"] == "RUNNING_STATUS_RUNNING"
    progress = report(http, execution_id, progress={"progress": 0.5, "phase": "epoch 1"})
    assert progress["jobStatus"]["progress"] == 0.5
    assert call(http, "GetJobStatus", {"execution_id": execution_id})["jobStatus"]["phase"] == (
        "epoch 1"
    )
    step = call(
        http,
        "UpdateStep",
        {
            "execution_id": execution_id,
            "step": {"name": "load", "status": "RUNNING_STATUS_RUNNING"},
        },
    )
    assert step["step"]["name"] == "load"
    appended = call(
        http,
        "AppendLogs",
        {"execution_id": execution_id, "entries": [{"message": "one"}, {"message": "two"}]},
    )
    assert appended["lastSeq"] == "2"
    logs = call(http, "GetExecutionLogs", {"execution_id": execution_id})
    assert [e["message"] for e in logs["entries"]] == ["one", "two"]
    outputs = call(
        http,
        "SetExecutionOutputs",
        {
            "execution_id": execution_id,
            "outputs": [{"name": "model", "value": "s3://m"}],
            "result": {"accuracy": 0.9},
        },
    )
    assert outputs["execution"]["result"] == {"accuracy": 0.9}
    found = call(http, "GetExecutionOutput", {"execution_id": execution_id, "output_name": "model"})
    assert found["output"]["value"] == "s3://m"
    canceled = call(http, "CancelExecution", {"execution_id": execution_id})
    assert canceled["jobStatus"]["status"] == "RUNNING_STATUS_CANCEL_REQUESTED"
    deleted = call(http, "DeleteExecution", {"execution_id": execution_id})
    assert deleted == {"executionId": execution_id}
    assert call(http, "DeleteDeployment", {"name": name})["name"] == name

    assert call(http, "GetServiceInfo")["maxMessageBytes"] > 0
    token = call(http, "CreateToken", {"name": unique("ci"), "role": "ROLE_READER"})
    token_id = token["token"]["tokenId"]
    assert token["secret"]
    assert token_id in [t["tokenId"] for t in call(http, "ListTokens")["tokens"]]
    assert call(http, "RevokeToken", {"token_id": token_id})["token"]["revokeTime"]


def test_a_binary_protobuf_body_gets_a_binary_answer(http: httpx.Client) -> None:
    execution_id = new_execution(http)
    response = http.post(
        SERVICE + "GetJobStatus",
        content=pb.GetJobStatusRequest(execution_id=execution_id).SerializeToString(),
        headers={"content-type": "application/proto"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/proto"
    status = pb.GetJobStatusResponse.FromString(response.content).job_status
    assert status.revision == 1


def test_reads_answer_get_and_writes_refuse_it(http: httpx.Client) -> None:
    execution_id = new_execution(http)
    message = quote(json.dumps({"execution_id": execution_id}))
    read = http.get(f"{SERVICE}GetJobStatus?encoding=json&message={message}")
    assert read.status_code == 200
    assert read.json()["jobStatus"]["revision"] == "1"
    write = http.get(f"{SERVICE}UpdateJobStatus?encoding=json&message={message}")
    assert write.status_code == 405
    assert write.json()["code"] == "invalid_argument"
    assert "takes POST" in write.json()["message"]


def test_the_request_id_is_answered(http: httpx.Client) -> None:
    response = http.post(SERVICE + "GetServiceInfo", json={}, headers={"x-request-id": "req-42"})
    assert response.headers["x-request-id"] == "req-42"
    made = http.post(SERVICE + "GetServiceInfo", json={}).headers["x-request-id"]
    assert len(made) == 32


@pytest.mark.parametrize(
    ("method", "body", "status", "code"),
    [
        ("GetExecution", {"execution_id": "exec-000000000000"}, 404, "not_found"),
        ("GetDeployment", {"name": "Not A Name"}, 400, "invalid_argument"),
        ("UpdateJobStatus", {"execution_id": "exec-000000000000"}, 400, "invalid_argument"),
        ("CreateToken", {"name": "x"}, 400, "invalid_argument"),
    ],
)
def test_errors_carry_the_connect_code_and_http_status(
    http: httpx.Client, method: str, body: dict[str, Any], status: int, code: str
) -> None:
    response = http.post(SERVICE + method, json=body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.json()["message"]


def test_a_bad_value_names_its_field(http: httpx.Client) -> None:
    execution_id = new_execution(http)
    report(http, execution_id, start={})
    response = http.post(
        SERVICE + "UpdateJobStatus",
        json={"execution_id": execution_id, "progress": {"progress": 1.5}},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_argument"
    assert "between 0 and 1" in violations(response)["progress.progress"]
    # Nothing half-written: the status is as it was.
    status = call(http, "GetJobStatus", {"execution_id": execution_id})["jobStatus"]
    assert "progress" not in status
    assert status["revision"] == "2"


def test_a_taken_name_is_already_exists(http: httpx.Client) -> None:
    name = unique("dep")
    deployment = {"name": name, "pipeline_name": "p", "execution_rule": "EXECUTION_RULE_ENDPOINT"}
    call(http, "CreateDeployment", {"deployment": deployment})
    again = http.post(SERVICE + "CreateDeployment", json={"deployment": deployment})
    assert (again.status_code, again.json()["code"]) == (409, "already_exists")


@pytest.mark.parametrize(
    ("content", "field", "words"),
    [
        (b"{not json", "request", "not valid JSON"),
        (b'{"execution_id": "x", "colour": "red"}', "colour", "is not a field"),
        (b'{"execution_id": 12}', "execution_id", ""),
        (b'{"execution_id": ["a"]}', "execution_id", ""),
        (b'{"execution_id": "a\\u0000b"}', "execution_id", "NUL"),
        (b"[1, 2]", "request", "must be a JSON object"),
    ],
)
def test_malformed_json_is_invalid_argument_naming_the_field(
    http: httpx.Client, content: bytes, field: str, words: str
) -> None:
    response = http.post(
        SERVICE + "GetJobStatus", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_argument"
    found = violations(response)
    assert field in found, found
    assert words in found[field]


def test_an_undecodable_binary_body_is_invalid_argument(http: httpx.Client) -> None:
    response = http.post(
        SERVICE + "GetJobStatus",
        content=b"\xff\xff\xff",
        headers={"content-type": "application/proto"},
    )
    assert response.status_code == 400
    assert violations_of_binary(response) == {
        "request": "is not a valid tracking.v1.GetJobStatusRequest message"
    }


def violations_of_binary(response: httpx.Response) -> dict[str, str]:
    # Errors are JSON whatever the request's encoding (the Connect protocol says so).
    assert response.headers["content-type"] == "application/json"
    return violations(response)


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        (SERVICE + "GetServiceInfo", {"content-type": "text/plain"}, 415, "invalid_argument"),
        (SERVICE + "GetServiceInfo", {"content-type": "application/grpc"}, 415, "invalid_argument"),
        (SERVICE + "NoSuchMethod", {"content-type": "application/json"}, 404, "unimplemented"),
        (
            "/tracking.v1.Other/GetServiceInfo",
            {"content-type": "application/json"},
            404,
            "not_found",
        ),
        ("/no/such/path", {"content-type": "application/json"}, 404, "not_found"),
    ],
)
def test_wrong_content_types_and_unknown_paths(
    http: httpx.Client, path: str, headers: dict[str, str], status: int, code: str
) -> None:
    response = http.post(path, content=b"{}", headers=headers)
    assert (response.status_code, response.json()["code"]) == (status, code), response.text


def test_a_body_over_the_message_limit_is_resource_exhausted(
    http: httpx.Client, stub: TrackingServiceStub
) -> None:
    limit = stub.GetServiceInfo(pb.GetServiceInfoRequest()).max_message_bytes
    body = json.dumps({"execution_id": "x" * (limit + 10)}).encode()
    response = http.post(
        SERVICE + "GetJobStatus", content=body, headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()["code"]) == (429, "resource_exhausted")
    # Both ports go on serving.
    assert call(http, "GetServiceInfo")["maxMessageBytes"] == limit
    assert stub.GetServiceInfo(pb.GetServiceInfoRequest()).max_message_bytes == limit


def test_cors_is_off_unless_origins_are_listed(
    http: httpx.Client, make_server: ServerFactory
) -> None:
    origin = {"origin": "https://dash.example"}
    plain = http.post(SERVICE + "GetServiceInfo", json={}, headers=origin)
    assert "access-control-allow-origin" not in plain.headers
    server = make_server(http_address="127.0.0.1:0", http_cors_origins="https://dash.example")
    with httpx.Client(base_url=server.http_url) as client:
        preflight = client.options(
            SERVICE + "GetServiceInfo",
            headers={
                **origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://dash.example"
        other = client.post(
            SERVICE + "GetServiceInfo", json={}, headers={"origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers


# Server-sent events


def test_a_watch_sends_each_change_with_its_revision_as_the_event_id(http: httpx.Client) -> None:
    execution_id = new_execution(http)
    with http.stream("GET", f"/events/WatchStatus?execution_id={execution_id}") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "retry: 1000"
        snapshot = next(events(lines))
        assert snapshot.id == "1"
        assert snapshot.data["event"]["snapshot"] is True
        report(http, execution_id, start={})
        report(http, execution_id, progress={"progress": 0.25})
        changes = [next(events(lines)) for _ in range(2)]
    assert [e.id for e in changes] == ["2", "3"]
    assert changes[1].data["event"]["jobStatus"]["progress"] == 0.25
    # Resuming after revision 2 gives exactly what came after it.
    with http.stream(
        "GET", f"/events/WatchStatus?execution_id={execution_id}", headers={"last-event-id": "2"}
    ) as stream:
        report(http, execution_id, stop={"cause": "RUNNING_STATUS_SUCCESS"})
        resumed = list(events(stream.iter_lines()))
    assert [e.id for e in resumed if e.kind == "message"] == ["3", "4"]
    assert resumed[-1].kind == "end"


def test_a_watch_of_every_execution_resumes_from_its_token(http: httpx.Client) -> None:
    with http.stream("GET", "/events/WatchStatus") as stream:
        lines = stream.iter_lines()
        first = new_execution(http)
        created = next(e for e in events(lines) if e.data["event"]["executionId"] == first)
        assert created.id == created.data["event"]["resumeToken"]
    second = new_execution(http)
    with http.stream("GET", "/events/WatchStatus", headers={"last-event-id": created.id}) as stream:
        after = next(
            e for e in events(stream.iter_lines()) if e.data["event"]["executionId"] == second
        )
    # On a server with many executions that can still change, the first stream may still be
    # sending snapshots when `first` is created: its token then resumes among the
    # snapshots, and `second` comes as a snapshot (no changes) rather than as its event.
    assert after.data["event"].get("changes", []) in ([], ["CHANGE_KIND_CREATED"])
    assert after.data["event"]["revision"] == "1"


def test_a_log_stream_resumes_after_the_last_seq_it_saw(http: httpx.Client) -> None:
    execution_id = new_execution(http)
    report(http, execution_id, start={})
    call(
        http,
        "AppendLogs",
        {"execution_id": execution_id, "entries": [{"message": f"{i}"} for i in range(1, 4)]},
    )
    url = f"/events/StreamLogs?execution_id={execution_id}&follow=true&tail=2"
    with http.stream("GET", url) as stream:
        (tail,) = EventReader(stream).take(1)
        assert [e["message"] for e in tail.data["entries"]] == ["2", "3"]
        assert tail.id == "3"
    call(
        http,
        "AppendLogs",
        {
            "execution_id": execution_id,
            "entries": [{"message": "4"}, {"message": "5", "stream": "LOG_STREAM_STDERR"}],
        },
    )
    report(http, execution_id, stop={"cause": "RUNNING_STATUS_SUCCESS"})
    # The tail is dropped on resume: it would skip lines.
    with http.stream("GET", url, headers={"last-event-id": "3"}) as stream:
        reader = EventReader(stream)
        rest = reader.rest()
    lines = [
        (e["seq"], e["message"], e.get("stream"))
        for r in rest
        if r.kind == "message"
        for e in r.data["entries"]
    ]
    assert lines == [("4", "4", "LOG_STREAM_STDOUT"), ("5", "5", "LOG_STREAM_STDERR")]
    assert rest[-1].kind == "end"


def test_an_idle_stream_sends_heartbeat_comments(http: httpx.Client) -> None:
    execution_id = new_execution(http)
    comments: list[str] = []
    with http.stream("GET", f"/events/WatchStatus?execution_id={execution_id}") as stream:
        lines = stream.iter_lines()
        next(events(lines, comments))  # the snapshot
        while not comments:
            line = next(lines)
            if line.startswith(":"):
                comments.append(line)
    assert comments[0].startswith(": heartbeat 20")


@pytest.mark.parametrize(
    ("query", "headers", "field"),
    [
        ("", {}, "execution_id"),
        ("execution_id=e&colour=red", {}, "colour"),
        ("execution_id=e&execution_id=f", {}, "execution_id"),
        ("execution_id=e&follow=maybe", {}, "follow"),
        ("execution_id=e&tail=ten", {}, "tail"),
        ("execution_id=e&stream=LOG_STREAM_PURPLE", {}, "stream"),
        ("execution_id=e&since=yesterday", {}, "since"),
        ("execution_id=e", {"last-event-id": "seven"}, "Last-Event-ID"),
        ("deployment_name=d", {"last-event-id": "forged"}, "resume_token"),
    ],
)
def test_a_bad_stream_query_is_invalid_argument_naming_the_field(
    http: httpx.Client, query: str, headers: dict[str, str], field: str
) -> None:
    response = http.get(f"/events/StreamLogs?{query}", headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_argument"
    assert field in violations(response)


def test_a_foreign_cursor_is_refused(http: httpx.Client) -> None:
    execution_id = new_execution(http)
    ahead = http.get(
        f"/events/StreamLogs?execution_id={execution_id}", headers={"last-event-id": "99"}
    )
    assert ahead.status_code == 400
    assert "ahead of the execution's last seq" in violations(ahead)["after_seq"]
    forged = http.get("/events/WatchStatus", headers={"last-event-id": "not-a-token"})
    assert forged.status_code == 400
    assert "resume_token" in violations(forged)
    missing = http.get("/events/WatchStatus?execution_id=exec-000000000000")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    unknown = http.get("/events/Tail?execution_id=x")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


def test_sse_streams_count_against_the_callers_watcher_limit(make_server: ServerFactory) -> None:
    server = make_server(http_address="127.0.0.1:0", max_watchers_per_principal=2)
    with httpx.Client(base_url=server.http_url, timeout=30) as client:
        execution_id = new_execution(client)
        url = f"/events/WatchStatus?execution_id={execution_id}"
        with client.stream("GET", url) as one, client.stream("GET", url) as two:
            readers = [EventReader(one), EventReader(two)]
            assert [reader.take(1)[0].id for reader in readers] == ["1", "1"]
            third = client.get(url)
            assert (third.status_code, third.json()["code"]) == (429, "resource_exhausted")
        # Closed streams give their places back.
        assert server.app is not None
        hub = server.app.hub
        wait_for(lambda: hub.watcher_count == 0, "the closed streams to be let go")
        with client.stream("GET", url) as again:
            assert EventReader(again).take(1)[0].id == "1"


def _raw_stream(url: str, path: str) -> socket.socket:
    """An SSE request from a client that then stops reading (a tiny receive window)."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect((parts.hostname, parts.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
    return sock


def test_an_sse_reader_that_stops_reading_is_closed_and_resumes(make_server: ServerFactory) -> None:
    server = make_server(http_address="127.0.0.1:0", watcher_queue=8, heartbeat_seconds=30)
    assert server.app is not None
    with httpx.Client(base_url=server.http_url, timeout=60) as client:
        execution_id = new_execution(client)
        report(client, execution_id, start={})
        sock = _raw_stream(server.http_url, f"/events/WatchStatus?execution_id={execution_id}")
        with grpc.insecure_channel(server.address) as channel:
            stub = TrackingServiceStub(channel)
            phase = "p" * 2000
            changes = 0
            # Until the watcher's queue is full (the stream is blocked on the reader), then
            # once more: it overflows.
            while max(server.app.hub.queue_depths(), default=0) < 8 or not changes:
                changes += 1
                stub.UpdateJobStatus(
                    pb.UpdateJobStatusRequest(
                        execution_id=execution_id,
                        progress=pb.ProgressAction(progress=changes / 100_000, phase=phase),
                    )
                )
            changes += 1
            stub.UpdateJobStatus(
                pb.UpdateJobStatusRequest(
                    execution_id=execution_id, progress=pb.ProgressAction(progress=0.5)
                )
            )
        # The stream was closed at once, its unsent bytes dropped (a reader that never reads
        # would hold them for ever): reading again, the reader gets some of the events, in
        # order, then the connection is gone.
        hub = server.app.hub
        wait_for(lambda: hub.watcher_count == 0, "the overflowed stream to close")
        sock.settimeout(60)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
        sock.close()
        text = received.decode(errors="replace")
        seen = [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
        seen = seen[:-1]  # the last event read may be cut short
        assert seen == list(range(2, len(seen) + 2))
        seen = seen or [1]
        with client.stream(
            "GET",
            f"/events/WatchStatus?execution_id={execution_id}",
            headers={"last-event-id": str(seen[-1])},
        ) as stream:
            rest = EventReader(stream).take(changes + 2 - seen[-1])
        assert [int(e.id) for e in rest] == list(range(seen[-1] + 1, changes + 3))


def test_the_connect_streaming_form_is_served(http: httpx.Client) -> None:
    execution_id = new_execution(http)
    request = json.dumps({"execution_id": execution_id, "follow": False}).encode()
    envelope = b"\x00" + len(request).to_bytes(4, "big") + request
    call(http, "AppendLogs", {"execution_id": execution_id, "entries": [{"message": "hello"}]})
    response = http.post(
        SERVICE + "StreamLogs",
        content=envelope,
        headers={"content-type": "application/connect+json"},
    )
    assert response.status_code == 200
    body, messages = response.content, []
    while body:
        flags, size = body[0], int.from_bytes(body[1:5], "big")
        messages.append((flags, json.loads(body[5 : 5 + size])))
        body = body[5 + size :]
    assert messages[0] == (0, {"entries": [messages[0][1]["entries"][0]]})
    assert messages[0][1]["entries"][0]["message"] == "hello"
    assert messages[-1][0] == 2  # end of stream, no error
    assert "error" not in messages[-1][1]


def test_base64_get_of_a_binary_request(http: httpx.Client) -> None:
    execution_id = new_execution(http)
    message = (
        base64.urlsafe_b64encode(
            pb.GetJobStatusRequest(execution_id=execution_id).SerializeToString()
        )
        .decode()
        .rstrip("=")
    )
    response = http.get(f"{SERVICE}GetJobStatus?encoding=proto&base64=1&message={message}")
    assert response.status_code == 200
    assert pb.GetJobStatusResponse.FromString(response.content).job_status.revision == 1


def test_tls_covers_the_http_side_too(make_server: ServerFactory, tmp_path: Path) -> None:
    ca, server_pem, client_pem = make_pki(tmp_path)
    server = make_server(
        http_address="127.0.0.1:0",
        tls_cert_file=str(server_pem.cert),
        tls_key_file=str(server_pem.key),
        tls_client_ca_file=str(ca.cert),
        tls_require_client_cert=True,
    )
    assert server.http_url.startswith("https://")
    trusted = ssl.create_default_context(cafile=str(ca.cert))
    with (
        httpx.Client(base_url=server.http_url, verify=trusted) as anonymous,
        pytest.raises(httpx.TransportError),
    ):
        anonymous.post(SERVICE + "GetServiceInfo", json={})
    trusted.load_cert_chain(str(client_pem.cert), str(client_pem.key))
    with httpx.Client(base_url=server.http_url, verify=trusted) as client:
        assert call(client, "GetServiceInfo")["maxMessageBytes"] > 0
    plain = server.http_url.replace("https://", "http://")
    with pytest.raises(httpx.TransportError):
        httpx.post(plain + SERVICE + "GetServiceInfo", json={})


def test_http_calls_count_in_the_metrics_and_the_rate_limit(make_server: ServerFactory) -> None:
    server = make_server(
        http_address="127.0.0.1:0", rate_limit_per_second=0.001, rate_limit_burst=3
    )
    assert server.app is not None
    calls = server.app.metrics.calls
    with httpx.Client(base_url=server.http_url) as client:
        codes = [client.post(SERVICE + "GetServiceInfo", json={}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = client.post(SERVICE + "GetServiceInfo", json={}).json()
    assert refused["code"] == "resource_exhausted"
    assert "requests a second" in refused["message"]
    assert calls.labels("GetServiceInfo", "OK")._value.get() == 3
    assert calls.labels("GetServiceInfo", "RESOURCE_EXHAUSTED")._value.get() == 2


@pytest.mark.parametrize(
    ("method", "path", "headers", "words"),
    [
        ("POST", SERVICE + "GetServiceInfo", {"content-type": "application/jsonx"}, "not"),
        (
            "POST",
            SERVICE + "GetServiceInfo",
            {"content-type": "application/json, text/plain"},
            "not",
        ),
        ("POST", SERVICE + "GetServiceInfo", {"content-type": "application/connect+json"}, "not"),
        ("POST", SERVICE + "WatchStatus", {"content-type": "application/json"}, "connect+json"),
        ("GET", SERVICE + "GetServiceInfo?message=%7B%7D", {}, "encoding=json"),
        ("GET", SERVICE + "GetServiceInfo?encoding=xml&message=%7B%7D", {}, "encoding=json"),
    ],
)
def test_every_refused_encoding_says_why(
    http: httpx.Client, method: str, path: str, headers: dict[str, str], words: str
) -> None:
    response = http.request(
        method, path, content=b"{}" if method == "POST" else None, headers=headers
    )
    assert response.status_code == 415
    assert response.json()["code"] == "invalid_argument"
    assert words in response.json()["message"]


def test_two_content_types_are_refused(http: httpx.Client) -> None:
    response = http.post(
        SERVICE + "GetServiceInfo",
        content=b"{}",
        headers=[("content-type", "application/json"), ("content-type", "application/proto")],
    )
    assert (response.status_code, response.json()["code"]) == (415, "invalid_argument")


def test_a_key_given_twice_is_refused_naming_it(http: httpx.Client) -> None:
    response = http.post(
        SERVICE + "CreateExecution",
        content=b'{"execution": {"job_name": "a", "job_name": "b"}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert violations(response) == {"job_name": "is given more than once"}


def test_an_event_stream_over_the_watcher_limit_is_refused_with_a_status(
    make_server: ServerFactory,
) -> None:
    # EventSource gives up on an HTTP error status; an `event: error` would make it retry
    # for ever.
    server = make_server(http_address="127.0.0.1:0", max_watchers_per_principal=1)
    with httpx.Client(base_url=server.http_url, timeout=30) as client:
        execution_id = new_execution(client)
        url = f"/events/WatchStatus?execution_id={execution_id}"
        accept = {"accept": "text/event-stream"}
        with client.stream("GET", url, headers=accept) as first:
            reader = EventReader(first)
            assert reader.take(1)[0].id == "1"
            second = client.get(url, headers=accept)
            assert (second.status_code, second.json()["code"]) == (429, "resource_exhausted")
