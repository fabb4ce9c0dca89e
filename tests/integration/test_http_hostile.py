"""The HTTP side against a hostile client: input no honest client sends must be refused
with a Connect error (never a 500), and cheap tricks must not hold the server's resources."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import islice
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.factories import new_token, unique
from tests.support.http import SERVICE, call, violations
from tests.support.server import ServerThread
from tests.support.waiting import wait_for


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.http_url, timeout=30) as client:
        yield client


def new_execution(http: httpx.Client) -> str:
    body = call(http, "CreateExecution", {"execution": {"job_name": unique("job")}})
    return str(body["execution"]["executionId"])


@pytest.mark.parametrize("stream", ["WatchStatus", "StreamLogs"])
@pytest.mark.parametrize(
    "cursor",
    [
        b"99999999999999999999999",
        b"9223372036854775808",
        b"9" * 5000,
        b"\xb2",
        b"\xd9\xa3",
        b"+3",
        b"0x3",
    ],
)
def test_a_last_event_id_that_is_no_cursor_is_invalid_argument(
    http: httpx.Client, stream: str, cursor: bytes
) -> None:
    execution_id = new_execution(http)
    response = http.get(
        f"/events/{stream}?execution_id={execution_id}", headers=[(b"last-event-id", cursor)]
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_argument"
    assert "Last-Event-ID" in violations(response)


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b"],
)
def test_a_sign_in_a_cross_site_form_could_send_is_refused_before_the_token_is_checked(
    make_server: ServerFactory, content_type: str | None
) -> None:
    # A form on another site may POST these types without a preflight, and a top-level
    # navigation may set a SameSite=Strict cookie: it would sign the browser in as the
    # form's author.
    server = make_server(auth="on", http_address="127.0.0.1:0")
    _, secret = new_token(server, "WRITER")
    body = json.dumps({"token": secret, "padding": "="}).encode()
    headers = {"content-type": content_type} if content_type else {}
    with httpx.Client(base_url=server.http_url, timeout=30) as client:
        refused = client.post("/auth/session", content=body, headers=headers)
        assert refused.status_code == 415, refused.text
        assert refused.json()["code"] == "invalid_argument"
        assert "set-cookie" not in refused.headers
        signed_in = client.post(
            "/auth/session", content=body, headers={"content-type": "application/json"}
        )
        assert signed_in.status_code == 200
        assert "set-cookie" in signed_in.headers


def test_a_forwarded_for_header_does_not_give_a_token_guesser_new_addresses(
    make_server: ServerFactory,
) -> None:
    # The failed-authentication limit counts per address, as the gRPC side sees it: the
    # connection's peer. A header the client writes must not stand for it.
    server = make_server(
        auth="on", http_address="127.0.0.1:0", auth_failure_burst=3, auth_failures_per_second=0.001
    )
    codes = []
    with httpx.Client(base_url=server.http_url, timeout=30) as client:
        for guess in range(6):
            response = client.post(
                "/auth/session",
                json={"token": f"tok_{guess:012d}." + "A" * 43},
                headers={"x-forwarded-for": f"203.0.113.{guess}", "forwarded": "for=192.0.2.1"},
            )
            codes.append(response.json()["code"])
    assert codes == ["unauthenticated"] * 3 + ["resource_exhausted"] * 3


# Only a guard against a hang: the server's own timeouts decide when a socket closes.
GUARD_SECONDS = 30


def connection(server: ServerThread, sends: bytes = b"") -> socket.socket:
    parts = urlsplit(server.http_url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=GUARD_SECONDS)
    if sends:
        sock.sendall(sends)
    return sock


def answer_before_close(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (TimeoutError if it does not)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


HEAD = b"POST /tracking.v1.TrackingService/ListExecutions HTTP/1.1\r\nHost: t\r\n"


def test_a_request_that_never_finishes_arriving_is_closed(make_server: ServerFactory) -> None:
    server = make_server(http_address="127.0.0.1:0", http_request_timeout_seconds=0.5)
    with httpx.Client(base_url=server.http_url, timeout=GUARD_SECONDS) as client:
        with client.stream("GET", "/events/WatchStatus") as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 1000"
            with ExitStack() as stack:
                idle = stack.enter_context(connection(server))
                headers = stack.enter_context(connection(server, HEAD + b"X-Slow: "))
                body = stack.enter_context(
                    connection(
                        server,
                        HEAD + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
                    )
                )
                assert answer_before_close(idle).startswith(b"HTTP/1.1 408 ")
                assert answer_before_close(headers).startswith(b"HTTP/1.1 408 ")
                assert answer_before_close(body) == b""
            # A stream that outlives the timeout is an answer, not a request: it goes on.
            heartbeats = (line for line in lines if line.startswith(": heartbeat"))
            assert len(list(islice(heartbeats, 2))) == 2
        call(client, "ListExecutions")


def test_connections_beyond_the_cap_are_refused_and_the_rest_stay_served(
    make_server: ServerFactory,
) -> None:
    server = make_server(
        http_address="127.0.0.1:0", max_connections=8, http_request_timeout_seconds=GUARD_SECONDS
    )
    request = HEAD + b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    with ExitStack() as stack:
        held = [stack.enter_context(connection(server)) for _ in range(8)]
        extra = stack.enter_context(connection(server))
        assert answer_before_close(extra).startswith(b"HTTP/1.1 503 ")
        for sock in held:
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    # Once those are gone, a client gets in (its first tries may still find the cap reached).
    with httpx.Client(base_url=server.http_url, timeout=GUARD_SECONDS) as client:
        wait_for(
            lambda: client.post(SERVICE + "ListExecutions", json={}).status_code == 200,
            "the held connections to be let go",
        )


def sends_a_gigabyte(sock: socket.socket) -> bool:
    """Whether the server takes a gigabyte on this connection without closing it."""
    chunk = b"a" * (1 << 20)
    try:
        for _ in range(1024):
            sock.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def test_a_request_head_over_the_limit_is_refused_as_it_arrives(
    make_server: ServerFactory,
) -> None:
    server = make_server(http_address="127.0.0.1:0", max_metadata_bytes=4096)
    # Over the limit (4096 + room for the request line), and small enough to be sent whole.
    with connection(server, HEAD + b"X-Big: " + b"a" * 60_000) as sock:
        assert answer_before_close(sock).startswith(b"HTTP/1.1 431 ")
    # A header that never ends is not kept: the server closes before a gigabyte is sent.
    with connection(server, HEAD + b"X-Big: ") as sock:
        assert not sends_a_gigabyte(sock)
    with httpx.Client(base_url=server.http_url, timeout=GUARD_SECONDS) as client:
        call(client, "ListExecutions")
