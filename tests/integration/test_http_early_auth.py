"""The HTTP port authenticates from the headers before it reads a body, refuses two
Authorization headers as gRPC does, and answers 431 for a request head over its cap
however it arrives; a sign-in reads little of what anyone sends it."""

from __future__ import annotations

import gzip
import socket
from urllib.parse import urlsplit

import httpx

from tests.conftest import ServerFactory
from tests.support.factories import new_token
from tests.support.http import call
from tests.support.server import ServerThread

# Only a guard against a hang: the server's own answers decide when a socket closes.
GUARD_SECONDS = 30
SERVICE = "/tracking.v1.TrackingService/"


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


def post_head(method: str, length: int, *headers: bytes) -> bytes:
    lines = [
        f"POST {SERVICE}{method} HTTP/1.1".encode(),
        b"Host: t",
        b"Content-Type: application/json",
        f"Content-Length: {length}".encode(),
        *headers,
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_a_caller_without_a_valid_token_is_answered_before_its_body_arrives(
    make_server: ServerFactory,
) -> None:
    server = make_server(
        auth="on",
        http_address="127.0.0.1:0",
        http_request_timeout_seconds=GUARD_SECONDS * 2,
        auth_failures_per_second=1e6,
        auth_failure_burst=1e6,
    )
    body_length = (4 << 20) - 1  # just under the message limit, never sent whole
    for headers in [(), (b"Authorization: Bearer tok_0123456789ab." + b"A" * 43,)]:
        with connection(server, post_head("GetJobStatus", body_length, *headers)) as sock:
            sock.sendall(b"[" * 65536)  # the start of a body that never ends
            answer = answer_before_close(sock)
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
        assert b"connection: close" in answer.lower()
    # Nor does a compressed body cost anything before the token is checked.
    bomb = gzip.compress(b"[" + b"[]," * 1_000_000 + b"[]]")
    with httpx.Client(base_url=server.http_url, timeout=GUARD_SECONDS) as client:
        refused = client.post(
            SERVICE + "GetJobStatus",
            content=bomb,
            headers={"content-type": "application/json", "content-encoding": "gzip"},
        )
        assert (refused.status_code, refused.json()["code"]) == (401, "unauthenticated")
        _, reader = new_token(server, "READER")
        call(client, "ListExecutions", headers={"authorization": f"Bearer {reader}"})


def test_two_authorization_headers_are_refused_over_http(make_server: ServerFactory) -> None:
    server = make_server(auth="on", http_address="127.0.0.1:0")
    _, reader = new_token(server, "READER")
    _, admin = new_token(server, "ADMIN")
    both = [("authorization", f"Bearer {reader}"), ("authorization", f"Bearer {admin}")]
    with httpx.Client(base_url=server.http_url, timeout=GUARD_SECONDS) as client:
        for first_wins in (both, both[::-1]):
            refused = client.post(SERVICE + "ListTokens", json={}, headers=first_wins)
            assert refused.status_code == 401
            assert refused.json() == {
                "code": "unauthenticated",
                "message": "send one authorization header, not 2",
            }
        stream = client.get("/events/WatchStatus", headers=both)
        assert (stream.status_code, stream.json()["code"]) == (401, "unauthenticated")


def test_a_request_head_over_the_cap_sent_in_one_write_is_answered_431(
    make_server: ServerFactory,
) -> None:
    # The default cap: 16 KiB of metadata and 32 KiB for the request line.
    server = make_server(http_address="127.0.0.1:0")
    head = post_head("ListExecutions", 2, b"X-Big: " + b"a" * 60_000)
    with connection(server, head + b"{}") as sock:
        answer = answer_before_close(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    with httpx.Client(base_url=server.http_url, timeout=GUARD_SECONDS) as client:
        call(client, "ListExecutions")


def test_a_sign_in_reads_at_most_4_kib(make_server: ServerFactory) -> None:
    server = make_server(auth="on", http_address="127.0.0.1:0")
    huge = b'{"token": "' + b"a" * (1 << 20) + b'"}'
    with httpx.Client(base_url=server.http_url, timeout=GUARD_SECONDS) as client:
        refused = client.post(
            "/auth/session", content=huge, headers={"content-type": "application/json"}
        )
        assert (refused.status_code, refused.json()["code"]) == (413, "resource_exhausted")
        _, reader = new_token(server, "READER")
        signed_in = client.post("/auth/session", json={"token": reader})
        assert signed_in.status_code == 200
        assert "set-cookie" in signed_in.headers
