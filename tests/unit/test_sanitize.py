"""The request sanitizer names every undefined enum number and every NUL character, in a
request parsed from protobuf bytes as in one built from JSON."""

from __future__ import annotations

from typing import Any

from tracking.service.api.registration import _deserializer, sanitized
from tracking.service.wrapping import Malformed
from tracking.v1 import execution_pb2
from tracking.v1 import tracking_service_pb2 as pb


def _lines(count: int, **changed: Any) -> pb.AppendLogsRequest:
    entries = [execution_pb2.LogEntry(message=f"line {i}") for i in range(count)]
    for index, fields in changed.items():
        entries[int(index.removeprefix("at"))].MergeFrom(execution_pb2.LogEntry(**fields))
    return pb.AppendLogsRequest(execution_id="exec-1", entries=entries)


def _refused(request: Any) -> list[tuple[str, str]]:
    """The violations of a request parsed from its bytes, and checks the same request as a
    message (the HTTP JSON path) gets the same ones."""
    parsed = _deserializer(type(request))(request.SerializeToString())
    direct = sanitized(request)
    seen = [
        [(v.field, v.description) for v in result.violations]
        if isinstance(result, Malformed)
        else []
        for result in (parsed, direct)
    ]
    assert seen[0] == seen[1]
    return seen[0]


def test_clean_lines_pass() -> None:
    assert _refused(_lines(500)) == []


def test_a_nul_in_one_of_many_lines_is_named() -> None:
    assert _refused(_lines(500, at321={"message": "a\x00b"})) == [
        ("entries[321].message", "must not contain NUL characters")
    ]


def test_an_undefined_stream_in_one_of_many_lines_is_named() -> None:
    assert _refused(_lines(500, at7={"stream": 99})) == [
        ("entries[7].stream", "99 is not a value of tracking.v1.LogStream")
    ]


def test_a_zero_byte_that_is_no_nul_passes() -> None:
    request = _lines(3)
    request.entries.add()  # an empty entry is encoded with a zero length
    assert b"\x00" in request.SerializeToString()
    assert _refused(request) == []


def test_nested_and_mapped_values_are_named() -> None:
    execution = execution_pb2.Execution(
        labels={"team": "a\x00"},
        job_type=42,  # type: ignore[arg-type]
        steps=[execution_pb2.Step(name="ok"), execution_pb2.Step(name="bad\x00")],
    )
    assert sorted(_refused(pb.CreateExecutionRequest(execution=execution))) == [
        ("execution.job_type", "42 is not a value of tracking.v1.JobType"),
        ("execution.labels['team']", "must not contain NUL characters"),
        ("execution.steps[1].name", "must not contain NUL characters"),
    ]
