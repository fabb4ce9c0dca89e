"""Whole numbers stay whole when a result, an input or an output is read back
(tracking.client.convert): a Struct holds every number as a double."""

from __future__ import annotations

from tracking.client import from_struct, from_value, to_struct
from tracking.client.convert import message_to_dict, whole_numbers
from tracking.v1 import execution_pb2, io_pb2, status_pb2

EXACT = 2**53


def typed(value: object) -> object:
    """The value with each number's type beside it, so 4 and 4.0 differ."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def test_a_result_reads_back_with_its_whole_numbers_whole() -> None:
    written = {"epochs": 4, "accuracy": 0.93, "nested": {"ids": [1, 2.5, -3]}, "ok": True}
    assert typed(from_struct(to_struct(written))) == typed(written)


def test_only_numbers_a_double_holds_exactly_become_int() -> None:
    assert typed(whole_numbers([float(EXACT), float(-EXACT), 2.0**60, 1e300, -0.0])) == [
        ("int", EXACT),
        ("int", -EXACT),
        ("float", 2.0**60),
        ("float", 1e300),
        ("int", 0),
    ]


def test_an_output_value_reads_back_whole() -> None:
    holder = to_struct({"v": 3})
    assert typed(from_value(holder.fields["v"])) == ("int", 3)


def test_a_message_keeps_its_own_floats_and_makes_its_json_fields_whole() -> None:
    execution = execution_pb2.Execution(
        job_status=status_pb2.JobStatus(progress=1.0),
        result=to_struct({"epochs": 4}),
        outputs=[io_pb2.ExecutionOutput(name="n", value=to_struct({"v": 7}).fields["v"])],
    )
    data = message_to_dict(execution, preserving_proto_field_name=True)
    assert typed(data["result"]) == {"epochs": ("int", 4)}
    assert typed(data["outputs"][0]["value"]) == ("int", 7)
    assert typed(data["job_status"]["progress"]) == ("float", 1.0)
