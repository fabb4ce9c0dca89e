"""The HTTP side against a hostile client: input no honest client sends must be refused
with a Connect error (never a 500), and cheap tricks must not hold the server's resources."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.factories import unique
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
