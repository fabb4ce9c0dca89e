"""Bodies an admitted HTTP client sends: compressed or large ones are inflated and parsed off
the event loop, and a JSON body whose parse alone would cost seconds is refused before it."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.http import SERVICE, call, violations
from tests.support.server import ServerThread

# http/connect.MAX_JSON_TOKENS
MOST_TOKENS = 200_000


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.http_url, timeout=60) as client:
        yield client


def _post(http: httpx.Client, method: str, body: bytes, *, gzipped: bool) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if gzipped:
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    return http.post(SERVICE + method, content=body, headers=headers)


def _running(http: httpx.Client) -> str:
    execution_id = str(call(http, "CreateExecution", {"execution": {}})["execution"]["executionId"])
    call(http, "UpdateJobStatus", {"executionId": execution_id, "start": {}})
    return execution_id


BOMBS = {
    "empty arrays": b'{"executionId":"x","x":[' + b",".join([b"[]"] * 1_000_000) + b"]}",
    "numbers": b'{"executionId":"x","x":[' + b",".join([b"0"] * 1_000_000) + b"]}",
    "members": b"{" + b",".join(b'"k%d":0' % i for i in range(300_000)) + b"}",
    "strings": b'{"executionId":"x","x":[' + b",".join([b'""'] * 1_000_000) + b"]}",
}


@pytest.mark.parametrize("gzipped", [True, False])
@pytest.mark.parametrize("bomb", BOMBS)
def test_a_json_body_of_a_million_values_is_refused_before_it_is_parsed(
    http: httpx.Client, gzipped: bool, bomb: str
) -> None:
    # A few KB once gzipped. Before: parsed whole (0.1 to 3 s of the event loop each, on
    # this machine), then refused for its unknown field.
    response = _post(http, "GetJobStatus", BOMBS[bomb], gzipped=gzipped)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_argument"
    assert violations(response) == {
        "request": f"holds more than {MOST_TOKENS} arrays, objects, members and elements"
    }


def test_brackets_inside_strings_are_not_arrays(http: httpx.Client) -> None:
    execution_id = _running(http)
    messages = ["[" * 65_000, "{" * 65_000, ":" * 65_000, ',\\"' * 20_000]
    body = json.dumps(
        {"executionId": execution_id, "entries": [{"message": m} for m in messages]}
    ).encode()
    assert sum(map(body.count, (b"[", b"{", b":", b","))) > MOST_TOKENS
    response = _post(http, "AppendLogs", body, gzipped=True)
    assert response.status_code == 200, response.text
    read = call(http, "GetExecutionLogs", {"executionId": execution_id})
    assert [entry["message"] for entry in read["entries"]] == messages


@pytest.mark.parametrize("gzipped", [True, False])
def test_a_large_request_parsed_off_the_loop_is_answered_as_any_other(
    http: httpx.Client, gzipped: bool
) -> None:
    execution_id = _running(http)
    entries = [{"message": f"line {i} " + "x" * 500} for i in range(5000)]
    body = json.dumps({"executionId": execution_id, "entries": entries}).encode()
    response = _post(http, "AppendLogs", body, gzipped=gzipped)
    assert response.status_code == 200, response.text
    assert response.json()["lastSeq"] == "5000"
    # Bad input in a large body is named as in a small one.
    entries[3]["message"] = 7  # type: ignore[assignment]
    body = json.dumps({"executionId": execution_id, "entries": entries}).encode()
    response = _post(http, "AppendLogs", body, gzipped=gzipped)
    assert response.status_code == 400, response.text
    assert violations(response) == {"entries[3].message": "must be a string, not a number"}


def test_a_gzip_body_that_is_no_gzip_is_invalid_argument(http: httpx.Client) -> None:
    response = http.post(
        SERVICE + "GetJobStatus",
        content=b"not gzip at all",
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_argument"


def test_a_gzip_body_that_inflates_past_the_limit_is_resource_exhausted(
    http: httpx.Client,
) -> None:
    body = b'{"executionId":"' + b" " * (5 << 20) + b'"}'
    response = _post(http, "GetJobStatus", body, gzipped=True)
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "resource_exhausted"
