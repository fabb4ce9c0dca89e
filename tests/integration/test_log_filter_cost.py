"""What a log filter may cost: a pattern whose program is too large is refused naming
`pattern`, and a filtered read stops at its budget (seconds of matching, characters and
lines examined), saying where to read on."""

from __future__ import annotations

import random

import grpc
import httpx
import pytest

from tests.support.factories import create_execution, violations
from tests.support.http import violations as http_violations
from tests.support.server import ServerThread
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

# 19 characters that compile to 9,015 instructions: 25 µs of matching a byte.
EXPLOSIVE = "(?:.{0,100}a){10}x"
# Within the program limit (825 instructions), and still about 7 µs a byte.
SLOW = "(?:[ab]{0,20}a){20}x"


def random_lines(count: int, length: int) -> list[epb.LogEntry]:
    chars = random.Random(7)
    return [
        epb.LogEntry(message="".join(chars.choice("ab") for _ in range(length)))
        for _ in range(count)
    ]


def append_all(stub: TrackingServiceStub, execution_id: str, entries: list[epb.LogEntry]) -> int:
    last = 0
    per_call = max(1, (3 << 20) // max(1, len(entries[0].message)))
    for first in range(0, len(entries), per_call):
        last = stub.AppendLogs(
            pb.AppendLogsRequest(
                execution_id=execution_id, entries=entries[first : first + per_call]
            )
        ).last_seq
    return last


def test_a_pattern_too_costly_to_compile_is_refused_naming_it(
    stub: TrackingServiceStub, server: ServerThread
) -> None:
    execution_id = create_execution(stub).execution_id
    for pattern in [EXPLOSIVE, r"\pL{1000}"]:
        with pytest.raises(grpc.RpcError) as read:
            stub.GetExecutionLogs(
                pb.GetExecutionLogsRequest(execution_id=execution_id, pattern=pattern), timeout=30
            )
        assert read.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "too costly to match" in violations(read.value)["pattern"]
        with pytest.raises(grpc.RpcError) as follow:
            list(
                stub.StreamLogs(
                    pb.StreamLogsRequest(execution_id=execution_id, pattern=pattern), timeout=30
                )
            )
        assert follow.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(follow.value)) == {"pattern"}
        response = httpx.post(
            f"{server.http_url}/tracking.v1.TrackingService/GetExecutionLogs",
            json={"executionId": execution_id, "pattern": pattern},
            timeout=30,
        )
        assert (response.status_code, response.json()["code"]) == (400, "invalid_argument")
        assert "too costly to match" in http_violations(response)["pattern"]


def test_a_slow_pattern_stops_at_the_reads_budget_and_says_where_to_read_on(
    stub: TrackingServiceStub,
) -> None:
    execution_id = create_execution(stub).execution_id
    last = append_all(stub, execution_id, random_lines(2000, 1000))
    read = pb.GetExecutionLogsRequest(execution_id=execution_id, pattern=SLOW)
    first = stub.GetExecutionLogs(read, timeout=60)
    # Matching all 2,000 lines takes about 14 s; the budget is half a second.
    assert first.truncated
    assert 0 < first.scanned_to_seq < last
    read.after_seq = first.scanned_to_seq
    after = stub.GetExecutionLogs(read, timeout=60)
    assert after.scanned_to_seq > first.scanned_to_seq


def test_a_filtered_read_examines_at_most_16_mib_of_lines(stub: TrackingServiceStub) -> None:
    execution_id = create_execution(stub).execution_id
    last = append_all(stub, execution_id, random_lines(1, 60000) * 300)  # 18 MB
    response = stub.GetExecutionLogs(
        pb.GetExecutionLogsRequest(execution_id=execution_id, contains="x"), timeout=60
    )
    assert response.truncated
    assert not response.entries
    # 16 MiB of 60,000-character lines: 279 of them, then the read stops.
    assert response.scanned_to_seq == (16 << 20) // 60000
    assert response.scanned_to_seq < last
