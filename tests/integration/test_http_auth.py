"""Auth over HTTP: the same tokens, roles and refusals as gRPC, for every RPC (unary calls
as Connect JSON, the streams as server-sent events), and the dashboard's sign-in cookie."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from tests.conftest import ServerFactory
from tests.integration.test_auth import RANK, REQUESTS, ROLE_OF
from tests.support.factories import new_token
from tests.support.http import SERVICE
from tests.support.server import ServerThread

REFUSED = {"unauthenticated", "permission_denied"}


@pytest.fixture
def secured(make_server: ServerFactory) -> ServerThread:
    return make_server(
        auth="on",
        http_address="127.0.0.1:0",
        token_cache_seconds=0,
        rate_limit_per_second=0,
        auth_failures_per_second=1e6,
        auth_failure_burst=1e6,
    )


@pytest.fixture
def http(secured: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=secured.http_url, timeout=30) as client:
        yield client


def query_of(request: Message) -> str:
    fields = json_format.MessageToDict(request, preserving_proto_field_name=True)
    return urlencode({k: str(v).lower() if isinstance(v, bool) else v for k, v in fields.items()})


def code_of(http: httpx.Client, rpc: str, headers: dict[str, str]) -> str:
    """The Connect code an HTTP call of `rpc` ends with ("ok" when it is not refused)."""
    request = REQUESTS[rpc]
    if rpc in ("WatchStatus", "StreamLogs"):
        with http.stream("GET", f"/events/{rpc}?{query_of(request)}", headers=headers) as stream:
            if stream.status_code == 200:
                return "ok"
            stream.read()
            return str(stream.json()["code"])
    response = http.post(
        SERVICE + rpc,
        content=json_format.MessageToJson(request),
        headers={"content-type": "application/json", **headers},
    )
    return "ok" if response.status_code == 200 else str(response.json()["code"])


def test_the_auth_matrix_over_http(secured: ServerThread, http: httpx.Client) -> None:
    tokens = {role: new_token(secured, role)[1] for role in RANK}
    failures: list[str] = []
    anonymous = {
        "no token": {},
        "not bearer": {"authorization": "Basic dXNlcjpwYXNz"},
        "unknown": {"authorization": "Bearer tok_0123456789ab." + "A" * 43},
        "a bad cookie": {"cookie": "tracking_token=tok_0123456789ab." + "A" * 43},
    }
    for rpc in REQUESTS:
        for caller, headers in anonymous.items():
            code = code_of(http, rpc, headers)
            if code != "unauthenticated":
                failures.append(f"{rpc} with {caller}: {code}")
        for role, secret in tokens.items():
            code = code_of(http, rpc, {"authorization": f"Bearer {secret}"})
            allowed = RANK[role] >= RANK[ROLE_OF[rpc]]
            if allowed and code in REFUSED:
                failures.append(f"{rpc} as {role}: refused ({code})")
            if not allowed and code != "permission_denied":
                failures.append(f"{rpc} as {role}: {code}, not permission_denied")
    assert failures == []


def test_sign_in_sets_a_cookie_that_authorizes_calls_and_streams(
    secured: ServerThread, http: httpx.Client
) -> None:
    _, reader = new_token(secured, "READER", name="dashboard-reader")
    assert http.get("/auth/session").json() == {"signed_in": False, "auth_required": True}
    refused = http.post("/auth/session", json={"token": "tok_0123456789ab." + "A" * 43})
    assert (refused.status_code, refused.json()["code"]) == (401, "unauthenticated")
    assert "set-cookie" not in refused.headers
    empty = http.post(
        "/auth/session", content=b"not json", headers={"content-type": "application/json"}
    )
    assert (empty.status_code, empty.json()["code"]) == (400, "invalid_argument")

    signed_in = http.post("/auth/session", json={"token": reader})
    assert signed_in.status_code == 200
    assert signed_in.json() == {
        "signed_in": True,
        "auth_required": True,
        "name": "dashboard-reader",
        "role": "reader",
    }
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith("tracking_token=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert http.get("/auth/session").json()["name"] == "dashboard-reader"

    # The cookie stands for the token: a read is let in, a write is a reader's refusal.
    read = http.post(SERVICE + "ListExecutions", json={})
    assert read.status_code == 200
    write = http.post(SERVICE + "CreateExecution", json={"execution": {}})
    assert (write.status_code, write.json()["code"]) == (403, "permission_denied")
    with http.stream("GET", "/events/WatchStatus") as stream:
        assert stream.status_code == 200
        assert next(stream.iter_lines()) == "retry: 1000"

    signed_out = http.delete("/auth/session")
    assert signed_out.json() == {"signed_in": False, "auth_required": True}
    assert 'tracking_token=""' in signed_out.headers["set-cookie"]
    http.cookies.clear()
    again = http.post(SERVICE + "ListExecutions", json={})
    assert (again.status_code, again.json()["code"]) == (401, "unauthenticated")


def test_an_authorization_header_wins_over_the_cookie(
    secured: ServerThread, http: httpx.Client
) -> None:
    _, reader = new_token(secured, "READER")
    _, writer = new_token(secured, "WRITER")
    http.post("/auth/session", json={"token": reader}).raise_for_status()
    created = http.post(
        SERVICE + "CreateExecution",
        json={"execution": {}},
        headers={"authorization": f"Bearer {writer}"},
    )
    assert created.status_code == 200


def test_with_auth_off_no_sign_in_is_needed(make_server: ServerFactory) -> None:
    server = make_server(http_address="127.0.0.1:0")
    with httpx.Client(base_url=server.http_url) as http:
        session = http.get("/auth/session").json()
        assert session["auth_required"] is False
        assert session["role"] == "admin"


def test_auth_auto_is_on_when_the_http_port_is_reachable_from_elsewhere() -> None:
    from tracking.service.settings import Settings

    assert not Settings(address="127.0.0.1:50051", http_address="127.0.0.1:8080").auth_required
    assert not Settings(address="127.0.0.1:50051", http_address="").auth_required
    assert Settings(address="127.0.0.1:50051", http_address="0.0.0.0:8080").auth_required
