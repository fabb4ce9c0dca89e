"""The HTTP side against a hostile client: input no honest client sends must be refused
with a Connect error (never a 500), and cheap tricks must not hold the server's resources."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.factories import new_token, unique
from tests.support.http import call, violations
from tests.support.server import ServerThread


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
    [b"99999999999999999999999", b"9223372036854775808", b"9" * 5000, b"\xb2", b"\xd9\xa3", b"+3", b"0x3"],
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
