import datetime as dt

import pytest
from google.protobuf import struct_pb2

from tracking.client import requests as rq
from tracking.v1 import deployment_pb2, execution_pb2, status_pb2
from tracking.v1 import tracking_service_pb2 as pb


def test_update_deployment_mask_names_exactly_the_fields_passed() -> None:
    request = rq.update_deployment("nightly", description="d", is_enabled=False)
    assert list(request.update_mask.paths) == ["description", "is_enabled"]
    assert request.deployment == deployment_pb2.Deployment(
        name="nightly", description="d", is_enabled=False
    )
    assert request.deployment.HasField("is_enabled")  # sent, even false


def test_update_deployment_leaves_is_enabled_unset_unless_given() -> None:
    request = rq.update_deployment("nightly", description="d")
    assert not request.deployment.HasField("is_enabled")


def test_update_deployment_converts_enum_names() -> None:
    request = rq.update_deployment("nightly", mode="low_latency", status="up")
    assert list(request.update_mask.paths) == ["mode", "status"]
    assert request.deployment.mode == deployment_pb2.DEPLOYMENT_MODE_LOW_LATENCY
    assert request.deployment.status == deployment_pb2.DEPLOYMENT_STATUS_UP


def test_update_deployment_needs_a_change_and_known_fields() -> None:
    with pytest.raises(ValueError, match="at least one field"):
        rq.update_deployment("nightly")
    with pytest.raises(TypeError, match="execution_rule"):
        rq.update_deployment("nightly", execution_rule="periodic")  # type: ignore[call-arg]


def test_create_deployment_is_enabled_by_default() -> None:
    request = rq.create_deployment("nightly", "train", "PERIODIC", schedule="0 3 * * *")
    assert request.deployment == deployment_pb2.Deployment(
        name="nightly",
        pipeline_name="train",
        execution_rule=deployment_pb2.EXECUTION_RULE_PERIODIC,
        schedule="0 3 * * *",
        is_enabled=True,
    )
    disabled = rq.create_deployment("nightly", "train", "endpoint", is_enabled=False)
    assert not disabled.deployment.is_enabled


def test_create_deployment_rejects_unknown_fields() -> None:
    with pytest.raises(TypeError, match="pipeline_name"):
        rq.create_deployment("n", "p", "endpoint", pipeline_name="q")  # type: ignore[misc]


def test_create_execution_generates_a_request_id_once_per_request() -> None:
    first = rq.create_execution(deployment_name="nightly")
    second = rq.create_execution(deployment_name="nightly")
    assert len(first.request_id) == 32
    assert first.request_id != second.request_id
    assert rq.create_execution(request_id="mine").request_id == "mine"


def test_create_execution_fields() -> None:
    step = execution_pb2.Step(name="prep")
    request = rq.create_execution(
        deployment_name="nightly",
        job_type="train",
        labels={"team": "ml"},
        steps=[step],
        request_id="r1",
    )
    assert request == pb.CreateExecutionRequest(
        execution=execution_pb2.Execution(
            deployment_name="nightly",
            job_type=execution_pb2.JOB_TYPE_TRAIN,
            labels={"team": "ml"},
            steps=[step],
        ),
        request_id="r1",
    )


def test_create_execution_rejects_unknown_fields() -> None:
    with pytest.raises(TypeError, match="job_nam"):
        rq.create_execution(job_nam="typo")  # type: ignore[call-arg]


def test_job_status_actions() -> None:
    assert rq.start("e", phase="load").WhichOneof("action") == "start"
    assert not rq.start("e").HasField("expected_revision")
    assert rq.start("e", expected_revision=0).expected_revision == 0
    assert rq.start("e", expected_revision=0).HasField("expected_revision")
    progress = rq.update_progress("e", 0.25, phase="train", expected_revision=4)
    assert progress.progress == pb.ProgressAction(progress=0.25, phase="train")
    assert progress.expected_revision == 4
    assert rq.suspend("e", reason="maintenance").suspend.reason == "maintenance"
    assert rq.resume("e").WhichOneof("action") == "resume"
    assert rq.stop("e").stop.cause == status_pb2.RUNNING_STATUS_SUCCESS
    stop = rq.stop("e", "error", "boom")
    assert stop.stop == pb.StopAction(cause=status_pb2.RUNNING_STATUS_ERROR, message="boom")


def test_set_execution_outputs_result() -> None:
    request = rq.set_execution_outputs("e", result={"accuracy": 0.9})
    assert request.result["accuracy"] == 0.9
    assert not rq.set_execution_outputs("e").HasField("result")
    # An empty dict is sent, to clear the result.
    assert rq.set_execution_outputs("e", result={}).HasField("result")
    struct = struct_pb2.Struct()
    struct.update({"a": 1})
    assert rq.set_execution_outputs("e", result=struct).result == struct


def test_append_logs_turns_strings_into_stdout_lines() -> None:
    stderr = execution_pb2.LogEntry(stream=execution_pb2.LOG_STREAM_STDERR, message="oops")
    request = rq.append_logs("e", ["hello\n", "crlf\r\n", stderr, "plain"])
    stdout = execution_pb2.LOG_STREAM_STDOUT
    assert list(request.entries) == [
        execution_pb2.LogEntry(stream=stdout, message="hello"),
        execution_pb2.LogEntry(stream=stdout, message="crlf"),
        stderr,
        execution_pb2.LogEntry(stream=stdout, message="plain"),
    ]


def test_get_execution_logs_times_and_stream() -> None:
    request = rq.get_execution_logs(
        "e", from_time=dt.datetime(2026, 1, 1, 12), limit=10, stream="stderr", after_seq=5
    )
    assert request.from_time.ToJsonString() == "2026-01-01T12:00:00Z"
    assert not request.HasField("to_time")
    assert request.stream == execution_pb2.LOG_STREAM_STDERR
    assert (request.limit, request.after_seq) == (10, 5)


def test_stream_requests() -> None:
    watch = rq.watch_status(deployment_name="nightly", resume_token="t")
    assert watch == pb.WatchStatusRequest(deployment_name="nightly", resume_token="t")
    logs = rq.stream_logs("e", since=dt.datetime(2026, 1, 1), tail=5, follow=True, stream=2)
    assert logs.since.ToJsonString() == "2026-01-01T00:00:00Z"
    assert (logs.tail, logs.follow, logs.stream) == (5, True, execution_pb2.LOG_STREAM_STDERR)


def test_set_times_sends_only_the_times_given() -> None:
    request = rq.set_times("e1", duration=dt.timedelta(seconds=1.5))
    assert request.WhichOneof("action") == "times"
    assert request.times.duration.ToTimedelta() == dt.timedelta(seconds=1.5)
    assert not request.times.HasField("create_time")
    assert not request.times.HasField("start_time")
    assert not request.HasField("expected_revision")
    created = rq.set_times("e1", create_time=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert created.times.create_time.ToDatetime(tzinfo=dt.UTC) == dt.datetime(
        2026, 1, 1, tzinfo=dt.UTC
    )
    assert not created.times.HasField("duration")
