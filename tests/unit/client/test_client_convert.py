import datetime as dt
from typing import Any, cast

import pytest
from google.protobuf import json_format, struct_pb2

from tracking.client import enum_value, to_struct, to_timestamp
from tracking.v1 import deployment_pb2, execution_pb2, status_pb2


@pytest.mark.parametrize(
    "value",
    [
        "RUNNING",
        "running",
        " Running ",
        "RUNNING_STATUS_RUNNING",
        status_pb2.RUNNING_STATUS_RUNNING,
    ],
)
def test_enum_value_accepts_numbers_and_names(value: int | str) -> None:
    assert enum_value(status_pb2.RunningStatus, value) == status_pb2.RUNNING_STATUS_RUNNING


def test_enum_value_handles_multi_word_enums() -> None:
    assert enum_value(deployment_pb2.DeploymentMode, "low-latency") == (
        deployment_pb2.DEPLOYMENT_MODE_LOW_LATENCY
    )
    assert enum_value(execution_pb2.JobType, "train_inference") == (
        execution_pb2.JOB_TYPE_TRAIN_INFERENCE
    )
    assert enum_value(deployment_pb2.ExecutionRule, "periodic") == (
        deployment_pb2.EXECUTION_RULE_PERIODIC
    )


def test_enum_value_rejects_unknown_names_listing_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="one of: UNSPECIFIED, STDOUT, STDERR"):
        enum_value(execution_pb2.LogStream, "stdin")


def test_enum_value_rejects_unknown_numbers_and_other_types() -> None:
    with pytest.raises(ValueError, match="not a LogStream value"):
        enum_value(execution_pb2.LogStream, 7)
    with pytest.raises(TypeError):
        enum_value(execution_pb2.LogStream, True)
    with pytest.raises(TypeError):
        enum_value(execution_pb2.LogStream, cast(Any, 1.0))


def test_naive_datetime_is_taken_as_utc() -> None:
    naive = to_timestamp(dt.datetime(2026, 1, 2, 3, 4, 5, 6000))
    aware = to_timestamp(dt.datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=dt.UTC))
    assert naive == aware
    assert naive.ToJsonString() == "2026-01-02T03:04:05.006Z"


def test_aware_datetime_keeps_its_instant() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    ts = to_timestamp(dt.datetime(2026, 1, 2, 4, 0, tzinfo=paris))
    assert ts.ToJsonString() == "2026-01-02T03:00:00Z"


def test_to_struct() -> None:
    value = {"accuracy": 0.9, "tags": ["a"], "best": {"epoch": 3.0}}
    assert json_format.MessageToDict(to_struct(value)) == value
    given = struct_pb2.Struct()
    assert to_struct(given) is given
