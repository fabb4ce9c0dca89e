"""The facades of tracking.client.facades against the real server, on each database.

Each seed method is called as its users call it; the tests check every key and property
the seed documents, and that a missing id raises the seed's error with the server's message.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.support.factories import new_token, unique
from tests.support.server import ServerThread
from tracking.client import (
    InvalidArgument,
    NotFound,
    RemoteException,
    TrackingClient,
    enum_value,
    to_timestamp,
)
from tracking.client.facades import (
    CraftAiSdk,
    Deployment,
    JobMonitor,
    JobStatus,
    RunningStatus,
)
from tracking.client.facades._common import epoch
from tracking.v1 import deployment_pb2 as dpb
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import io_pb2
from tracking.v1 import status_pb2 as spb

RS = spb.RunningStatus

CONTEXT_KEYS = {
    "uuid",
    "stage_log",
    "meta_data",
    "data_uuid",
    "stage_output",
    "error_information",
    "start_time",
    "end_time",
    "delta_time",
    "is_context_aware",
    "used_cache",
    "cache_uuid",
    "cache_read_time",
    "cache_write_time",
    "has_stage_output",
}


@pytest.fixture
def client(server: ServerThread) -> Iterator[TrackingClient]:
    with TrackingClient(server.address) as client:
        yield client


def new_execution(client: TrackingClient, **fields: Any) -> str:
    return client.create_execution(
        execution_id=unique("ex"), pipeline_name="pipe", **fields
    ).execution_id


def is_utc_iso(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parsed = dt.datetime.fromisoformat(value)
    return parsed.utcoffset() == dt.timedelta(0)


# Foundations


def test_foundations_status_through_a_job(client: TrackingClient) -> None:
    execution_id = new_execution(client, job_name="train-resnet")
    deployment = Deployment(client, execution_id)
    assert deployment.job_name() == "train-resnet"
    assert deployment.get_job_status() == "Queued"
    assert deployment.is_job_complete() is False
    client.start(execution_id)
    assert deployment.get_job_status() == "Running"
    client.suspend(execution_id)
    assert deployment.get_job_status() == "Running"
    client.resume(execution_id)
    client.stop(execution_id, "SUCCESS")
    assert deployment.get_job_status() == "Completed"
    assert deployment.is_job_complete() is True


def _to_status(client: TrackingClient, execution_id: str, status: str) -> None:
    """Drive an execution from WAITING to `status` the way a worker and a user would."""
    if status == "WAITING":
        return
    client.start(execution_id)
    if status == "SUSPENDED":
        client.suspend(execution_id)
    elif status == "CANCEL_REQUESTED":
        client.cancel_execution(execution_id)
    elif status != "RUNNING":
        client.stop(execution_id, status, "boom")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("WAITING", "Queued"),
        ("RUNNING", "Running"),
        ("SUSPENDED", "Running"),
        ("CANCEL_REQUESTED", "Running"),
        ("SUCCESS", "Completed"),
        ("ERROR", "Error"),
        ("CANCELED", "Error"),
        ("UNKNOWN", "Error"),
    ],
)
def test_foundations_status_and_completion_agree(
    client: TrackingClient, status: str, expected: str
) -> None:
    execution_id = new_execution(client)
    _to_status(client, execution_id, status)
    assert client.get_job_status(execution_id).status == enum_value(RS, status)
    deployment = Deployment(client, execution_id)
    assert deployment.get_job_status() == expected
    # "Error" is a failure, and a failed job is done: complete exactly when it is not
    # "Queued" or "Running".
    assert deployment.is_job_complete() is (expected in ("Completed", "Error"))


def test_foundations_an_unknown_job_is_an_error_when_fetched(client: TrackingClient) -> None:
    execution_id = new_execution(client)
    client.start(execution_id)
    client.stop(execution_id, "UNKNOWN", "worker lost")
    deployment = Deployment(client, execution_id)
    assert (deployment.get_job_status(), deployment.is_job_complete()) == ("Error", True)
    with pytest.raises(RemoteException, match="worker lost"):  # at once: no waiting forever
        deployment.fetch_job_results()


def test_foundations_job_name_defaults_to_the_id(client: TrackingClient) -> None:
    execution_id = new_execution(client)
    assert Deployment(client, execution_id).job_name() == execution_id


def test_foundations_fetch_waits_then_returns_the_results(client: TrackingClient) -> None:
    step = epb.Step(name="train", origin=epb.STEP_ORIGIN_LOCAL)
    execution_id = new_execution(client, job_name="j", steps=[step])
    deployment = Deployment(client, execution_id)

    def worker() -> None:
        client.start(execution_id)
        client.append_logs(
            execution_id,
            ["loading", epb.LogEntry(message="epoch 1", step_name="train")],
        )
        client.set_execution_outputs(execution_id, result={"accuracy": 0.9})
        client.stop(execution_id, "SUCCESS")

    thread = threading.Timer(0.3, worker)
    thread.start()
    results = deployment.fetch_job_results(wait_seconds=0.1)
    thread.join()

    assert set(results) == {"provenance", "global_stage_context", "stage_contexts"}
    assert results["provenance"]["execution_id"] == execution_id
    assert results["provenance"]["job_name"] == "j"
    glob = results["global_stage_context"]
    assert set(glob) == CONTEXT_KEYS
    assert glob["uuid"] == execution_id
    assert glob["stage_log"] == ["loading", "epoch 1"]
    assert glob["stage_output"] == {"accuracy": 0.9}
    assert glob["has_stage_output"] is True
    assert glob["error_information"] is None
    assert isinstance(glob["start_time"], float)
    assert isinstance(glob["end_time"], float)
    assert glob["delta_time"] == pytest.approx(glob["end_time"] - glob["start_time"])
    assert glob["delta_time"] >= 0
    assert set(results["stage_contexts"]) == {f"{execution_id}/train"}
    train = results["stage_contexts"][f"{execution_id}/train"]
    assert set(train) == CONTEXT_KEYS
    assert train["stage_log"] == ["epoch 1"]
    assert train["meta_data"]["origin"] == "local"


def test_foundations_stage_contexts_are_keyed_by_each_stage_uuid(client: TrackingClient) -> None:
    steps = [epb.Step(name="prepare"), epb.Step(name="train")]
    execution_id = new_execution(client, steps=steps)
    client.start(execution_id)
    client.append_logs(execution_id, [epb.LogEntry(message="fit", step_name="train")])
    client.stop(execution_id, "SUCCESS")
    contexts = Deployment(client, execution_id).fetch_job_results()["stage_contexts"]
    assert list(contexts) == [f"{execution_id}/prepare", f"{execution_id}/train"]
    for key, context in contexts.items():
        assert context["uuid"] == key
    assert contexts[f"{execution_id}/train"]["stage_log"] == ["fit"]


def test_foundations_a_success_stopped_with_a_message_has_no_error(
    client: TrackingClient,
) -> None:
    execution_id = new_execution(client)
    client.start(execution_id)
    client.stop(execution_id, "SUCCESS", "all 3 epochs done")
    glob = Deployment(client, execution_id).fetch_job_results()["global_stage_context"]
    assert glob["error_information"] is None
    assert glob["meta_data"]["phase"] == "all 3 epochs done"


def append_in_batches(client: TrackingClient, execution_id: str, entries: list[Any]) -> None:
    """AppendLogs in batches of at most 5,000 lines, the most one call accepts."""
    for first in range(0, len(entries), 5000):
        client.append_logs(execution_id, entries[first : first + 5000])


MANY = 12_001  # more lines than one GetExecutionLogs returns (10,000)


def test_foundations_stage_log_holds_every_line(client: TrackingClient) -> None:
    execution_id = new_execution(client, steps=[epb.Step(name="train")])
    client.start(execution_id)
    entries = [
        epb.LogEntry(message=f"line {i}", step_name="train" if i % 3 == 0 else "")
        for i in range(MANY)
    ]
    append_in_batches(client, execution_id, entries)
    client.stop(execution_id, "SUCCESS")
    results = Deployment(client, execution_id).fetch_job_results()
    assert results["global_stage_context"]["stage_log"] == [e.message for e in entries]
    train = results["stage_contexts"][f"{execution_id}/train"]
    assert train["stage_log"] == [e.message for e in entries if e.step_name == "train"]


def test_foundations_fetch_of_a_failed_job_raises(client: TrackingClient) -> None:
    execution_id = new_execution(client)
    client.start(execution_id)
    client.stop(execution_id, "ERROR", "exit code 3")
    deployment = Deployment(client, execution_id)
    deployment.wait_for_deployment_to_complete()
    with pytest.raises(RemoteException, match="exit code 3"):
        deployment.fetch_job_results()


def test_foundations_missing_job_is_not_found(client: TrackingClient) -> None:
    missing = unique("missing")
    deployment = Deployment(client, missing)
    with pytest.raises(NotFound, match=f"execution '{missing}' not found"):
        deployment.get_job_status()
    with pytest.raises(NotFound, match=missing):
        deployment.job_name()
    with pytest.raises(NotFound, match=missing):
        deployment.fetch_job_results()


# Perceval


def test_perceval_running_status_numbers_and_names() -> None:
    assert [s.value for s in RunningStatus] == list(range(8))
    assert [s.name for s in RunningStatus] == [
        "WAITING",
        "RUNNING",
        "SUCCESS",
        "ERROR",
        "CANCELED",
        "SUSPENDED",
        "CANCEL_REQUESTED",
        "UNKNOWN",
    ]
    assert RunningStatus.from_server_response("completed") is RunningStatus.SUCCESS
    assert RunningStatus.from_server_response("running") is RunningStatus.RUNNING
    assert RunningStatus.from_server_response("cancel_requested") is RunningStatus.CANCEL_REQUESTED
    assert RunningStatus.from_server_response("bogus") is RunningStatus.UNKNOWN
    assert RunningStatus.to_server_response(RunningStatus.SUCCESS) == "completed"
    assert RunningStatus.to_server_response(RunningStatus.ERROR) == "error"
    for status in RunningStatus:
        name = RunningStatus.to_server_response(status)
        assert RunningStatus.from_server_response(name) is status


def status_of(s: JobStatus) -> RunningStatus:
    """s.status, read anew (a plain function, so that mypy does not narrow the property)."""
    return s.status


def flags(s: JobStatus) -> dict[str, bool]:
    return {
        "waiting": s.waiting,
        "running": s.running,
        "completed": s.completed,
        "maybe_completed": s.maybe_completed,
        "success": s.success,
        "failed": s.failed,
        "canceled": s.canceled,
        "unknown": s.unknown,
    }


def only(*names: str) -> dict[str, bool]:
    all_names = [
        "waiting",
        "running",
        "completed",
        "maybe_completed",
        "success",
        "failed",
        "canceled",
        "unknown",
    ]
    return {n: n in names for n in all_names}


def test_perceval_job_lifecycle(client: TrackingClient) -> None:
    execution_id = new_execution(client)
    s = JobStatus(client, execution_id)
    assert status_of(s) is RunningStatus.WAITING
    assert flags(s) == only("waiting")
    assert s.progress == 0.0
    assert s.duration == 0.0
    assert s.start_timestamp is None
    created = s.creation_timestamp
    assert isinstance(created, float)
    assert abs(created - dt.datetime.now(dt.UTC).timestamp()) < 60

    s.start_run()
    assert status_of(s) is RunningStatus.RUNNING
    assert flags(s) == only("running")
    started = s.start_timestamp
    assert isinstance(started, float)
    assert started >= created
    s.update_progress(0.5, "training")
    assert s.progress == 0.5
    assert client.get_job_status(execution_id).phase == "training"

    client.cancel_execution(execution_id, reason="enough")
    assert status_of(s) is RunningStatus.CANCEL_REQUESTED
    assert flags(s) == only("running")

    s.stop_run()
    assert status_of(s) is RunningStatus.SUCCESS
    assert flags(s) == only("completed", "maybe_completed", "success")
    assert s.stop_message is None
    assert isinstance(s.duration, float)
    assert s.duration >= 0


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (RunningStatus.ERROR, ("completed", "maybe_completed", "failed")),
        (RunningStatus.CANCELED, ("completed", "maybe_completed", "failed", "canceled")),
        (RunningStatus.UNKNOWN, ("maybe_completed", "unknown")),
    ],
)
def test_perceval_stop_causes(
    client: TrackingClient, cause: RunningStatus, expected: tuple[str, ...]
) -> None:
    s = JobStatus(client, new_execution(client))
    s.start_run()
    s.stop_run(cause, "why it stopped")
    assert status_of(s) is cause
    assert flags(s) == only(*expected)
    assert s.stop_message == "why it stopped"


def test_perceval_success_has_no_stop_message(client: TrackingClient) -> None:
    execution_id = new_execution(client)
    s = JobStatus(client, execution_id)
    s.start_run()
    s.stop_run(RunningStatus.SUCCESS, "finished early")
    assert status_of(s) is RunningStatus.SUCCESS
    assert s.stop_message is None
    assert client.get_job_status(execution_id).phase == "finished early"


CREATED = 1_764_000_000.25  # epoch seconds, exact in binary
STARTED = CREATED + 3.5


def test_perceval_update_times(client: TrackingClient) -> None:
    execution_id = new_execution(client)
    s = JobStatus(client, execution_id)
    s.start_run()
    s.update_times(CREATED, STARTED, 37.0)
    assert (s.creation_timestamp, s.start_timestamp, s.duration) == (CREATED, STARTED, 37.0)
    assert status_of(s) is RunningStatus.RUNNING
    s.stop_run()
    assert s.duration == 37.0  # what the platform measured, not the server's clock
    assert epoch(client.get_job_status(execution_id).end_time) == STARTED + 37.0
    s.update_times(CREATED, STARTED, 12.5)  # after the end too
    assert s.duration == 12.5
    assert epoch(client.get_job_status(execution_id).end_time) == STARTED + 12.5


@pytest.mark.parametrize(
    ("times", "field"),
    [
        ((CREATED, CREATED - 10.0, 5.0), "times.start_time"),
        ((CREATED, STARTED, -1.0), "times.duration"),
    ],
)
def test_perceval_update_times_out_of_order_changes_nothing(
    client: TrackingClient, times: tuple[float, float, float], field: str
) -> None:
    execution_id = new_execution(client)
    s = JobStatus(client, execution_id)
    s.start_run()
    s.stop_run()
    before = client.get_job_status(execution_id)
    with pytest.raises(InvalidArgument) as caught:
        s.update_times(*times)
    assert [v.field for v in caught.value.field_violations] == [field]
    assert client.get_job_status(execution_id) == before


def test_perceval_suspended_is_neither_running_nor_completed(client: TrackingClient) -> None:
    execution_id = new_execution(client)
    s = JobStatus(client, execution_id)
    s.start_run()
    client.suspend(execution_id)
    assert status_of(s) is RunningStatus.SUSPENDED
    assert flags(s) == only()


def test_perceval_missing_job_is_not_found(client: TrackingClient) -> None:
    missing = unique("missing")
    s = JobStatus(client, missing)
    with pytest.raises(NotFound, match=f"execution '{missing}' not found"):
        _ = s.status
    with pytest.raises(NotFound, match=missing):
        s.start_run()


# JobMonitor

JOBMONITOR_KEYS = {
    "job_id",
    "status",
    "started_at",
    "finished_at",
    "updated_at",
    "experiment_name",
    "job_type",
    "model_run_id",
    "result",
    "export_paths",
    "source_views",
}


def test_jobmonitor_queued_then_completed(client: TrackingClient) -> None:
    execution_id = new_execution(
        client,
        job_type="TRAIN_INFERENCE",
        experiment_name="iris_classification_species",
        model_run_id="run-7",
    )
    monitor = JobMonitor(client, execution_id)
    queued = monitor.get_status()
    assert set(queued) == JOBMONITOR_KEYS
    assert queued["job_id"] == execution_id
    assert queued["status"] == "QUEUED"
    assert is_utc_iso(queued["started_at"])
    assert is_utc_iso(queued["updated_at"])
    assert queued["finished_at"] is None
    assert queued["experiment_name"] == "iris_classification_species"
    assert queued["job_type"] == "train_inference"
    assert queued["model_run_id"] == "run-7"
    assert queued["result"] == {}
    assert queued["export_paths"] == {}
    assert queued["source_views"] == {}

    client.start(execution_id)
    assert monitor.get_status()["status"] == "RUNNING"
    client.set_execution_outputs(
        execution_id,
        result={"best_epoch": 3.0, "val": {"loss": 0.1}},
        export_paths={"predictions": "s3://b/p.csv"},
        source_views={"predictions": "view_p"},
    )
    client.stop(execution_id, "SUCCESS")
    done = monitor.get_status()
    assert set(done) == JOBMONITOR_KEYS
    assert done["status"] == "COMPLETED"
    assert is_utc_iso(done["finished_at"])
    assert done["result"] == {"best_epoch": 3.0, "val": {"loss": 0.1}}
    assert done["export_paths"] == {"predictions": "s3://b/p.csv"}
    assert done["source_views"] == {"predictions": "view_p"}


@pytest.mark.parametrize(
    ("cause", "expected"),
    [("ERROR", "FAILED"), ("UNKNOWN", "FAILED"), ("CANCELED", "CANCELED")],
)
def test_jobmonitor_failures(client: TrackingClient, cause: str, expected: str) -> None:
    execution_id = new_execution(client, job_type="INFERENCE")
    client.start(execution_id)
    client.stop(execution_id, cause, "x")
    status = JobMonitor(client, execution_id).get_status()
    assert status["status"] == expected
    assert status["job_type"] == "inference"


def test_jobmonitor_empty_fields_are_none(client: TrackingClient) -> None:
    status = JobMonitor(client, new_execution(client)).get_status()
    assert status["job_type"] is None
    assert status["model_run_id"] is None
    assert status["experiment_name"] is None


def test_jobmonitor_missing_job_is_not_found(client: TrackingClient) -> None:
    missing = unique("missing")
    with pytest.raises(NotFound, match=f"execution '{missing}' not found"):
        JobMonitor(client, missing).get_status()


# Craft AI

DEPLOYMENT_KEYS = {
    "name",
    "mode",
    "pipeline",
    "inputs_mapping",
    "outputs_mapping",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "last_execution_id",
    "is_enabled",
    "description",
    "execution_rule",
    "status",
}
EXECUTION_KEYS = {
    "execution_id",
    "status",
    "created_at",
    "created_by",
    "end_date",
    "pipeline_name",
    "deployment_name",
    "steps",
    "inputs",
    "outputs",
}
STEP_KEYS = {
    "name",
    "status",
    "start_date",
    "end_date",
    "commit_id",
    "repository_url",
    "repository_branch",
    "requirements_path",
    "origin",
}
INPUT_BASE = {"pipeline_input_name", "data_type", "source", "value"}
OUTPUT_BASE = {"pipeline_output_name", "data_type", "destination", "value"}

INPUTS_MAPPING = [
    io_pb2.InputMapping(
        pipeline_input_name="a",
        data_type="string",
        description="constant",
        source=io_pb2.INPUT_SOURCE_CONSTANT,
        constant_value="x",
    ),
    io_pb2.InputMapping(
        pipeline_input_name="b",
        data_type="string",
        source=io_pb2.INPUT_SOURCE_ENVIRONMENT_VARIABLE,
        environment_variable_name="B",
    ),
    io_pb2.InputMapping(
        pipeline_input_name="c",
        data_type="number",
        source=io_pb2.INPUT_SOURCE_ENDPOINT,
        endpoint_input_name="c_in",
        is_required=True,
        default_value="1",
    ),
    io_pb2.InputMapping(
        pipeline_input_name="d", data_type="json", source=io_pb2.INPUT_SOURCE_IS_NULL, is_null=True
    ),
    io_pb2.InputMapping(
        pipeline_input_name="e",
        data_type="file",
        source=io_pb2.INPUT_SOURCE_DATASTORE,
        datastore_path="data/e.csv",
    ),
]
OUTPUTS_MAPPING = [
    io_pb2.OutputMapping(
        pipeline_output_name="p",
        data_type="number",
        destination=io_pb2.OUTPUT_DESTINATION_ENDPOINT,
        endpoint_output_name="p_out",
    ),
    io_pb2.OutputMapping(
        pipeline_output_name="q",
        data_type="json",
        destination=io_pb2.OUTPUT_DESTINATION_IS_NULL,
        is_null=True,
    ),
    io_pb2.OutputMapping(
        pipeline_output_name="r",
        data_type="file",
        destination=io_pb2.OUTPUT_DESTINATION_DATASTORE,
        datastore_path="out/r.csv",
    ),
]


def test_craftai_endpoint_deployment(client: TrackingClient) -> None:
    sdk = CraftAiSdk(client)
    name = unique("dep")
    client.create_deployment(
        name,
        "pipe",
        "ENDPOINT",
        description="serves",
        endpoint_token="tok",
        inputs_mapping=INPUTS_MAPPING,
        outputs_mapping=OUTPUTS_MAPPING,
    )
    listed = [d for d in sdk.list_deployments() if d["name"] == name]
    assert len(listed) == 1
    assert set(listed[0]) == {"name", "pipeline_name", "execution_rule", "is_enabled", "created_at"}
    assert listed[0]["pipeline_name"] == "pipe"
    assert listed[0]["execution_rule"] == "endpoint"
    assert listed[0]["is_enabled"] is True
    assert is_utc_iso(listed[0]["created_at"])

    execution_id = new_execution(client, deployment_name=name)
    info = sdk.get_deployment(name)
    assert set(info) == DEPLOYMENT_KEYS | {"endpoint_token"}
    assert info["mode"] == "elastic"
    assert info["pipeline"] == {"name": "pipe"}
    assert info["endpoint_token"] == "tok"
    assert info["execution_rule"] == "endpoint"
    assert info["status"] == "pending"
    assert info["description"] == "serves"
    assert info["last_execution_id"] == execution_id
    assert is_utc_iso(info["created_at"])
    assert is_utc_iso(info["updated_at"])
    assert isinstance(info["created_by"], str)
    assert isinstance(info["updated_by"], str)
    base_in = {"pipeline_input_name", "data_type", "description"}
    assert [set(m) for m in info["inputs_mapping"]] == [
        base_in | {"constant_value"},
        base_in | {"environment_variable_name"},
        base_in | {"endpoint_input_name", "is_required", "default_value"},
        base_in | {"is_null"},
        base_in | {"datastore_path"},
    ]
    assert info["inputs_mapping"][0] == {
        "pipeline_input_name": "a",
        "data_type": "string",
        "description": "constant",
        "constant_value": "x",
    }
    assert info["inputs_mapping"][2]["is_required"] is True
    assert info["inputs_mapping"][2]["default_value"] == "1"
    assert info["inputs_mapping"][3]["is_null"] is True
    base_out = {"pipeline_output_name", "data_type", "description"}
    assert [set(m) for m in info["outputs_mapping"]] == [
        base_out | {"endpoint_output_name"},
        base_out | {"is_null"},
        base_out | {"datastore_path"},
    ]
    assert info["outputs_mapping"][2]["datastore_path"] == "out/r.csv"

    assert sdk.delete_deployment(name) == {"name": name, "execution_rule": "endpoint"}
    with pytest.raises(NotFound, match=f"deployment '{name}' not found"):
        sdk.get_deployment(name)
    with pytest.raises(NotFound, match=execution_id):
        sdk.get_pipeline_execution(execution_id)


def test_craftai_periodic_low_latency_deployment(client: TrackingClient) -> None:
    sdk = CraftAiSdk(client)
    name = unique("dep")
    client.create_deployment(
        name,
        "pipe",
        "PERIODIC",
        schedule="0 3 * * *",
        mode="LOW_LATENCY",
        status="UP",
        pods=[dpb.Pod(pod_id="pod-1", status="Running")],
        is_enabled=False,
    )
    info = sdk.get_deployment(name)
    assert set(info) == DEPLOYMENT_KEYS | {"schedule", "human_readable_schedule", "pods"}
    assert info["mode"] == "low_latency"
    assert info["schedule"] == "0 3 * * *"
    assert isinstance(info["human_readable_schedule"], str)
    assert info["human_readable_schedule"]
    assert info["pods"] == [{"pod_id": "pod-1", "status": "Running"}]
    assert info["status"] == "up"
    assert info["is_enabled"] is False
    assert info["execution_rule"] == "periodic"
    assert info["last_execution_id"] is None
    assert sdk.delete_deployment(name) == {"name": name, "execution_rule": "periodic"}


def test_craftai_pipeline_execution(client: TrackingClient) -> None:
    sdk = CraftAiSdk(client)
    name = unique("dep")
    client.create_deployment(name, "pipe", "ENDPOINT")
    inputs = [
        io_pb2.ExecutionInput(
            name="a", data_type="string", source=io_pb2.INPUT_SOURCE_CONSTANT, constant_value="x"
        ),
        io_pb2.ExecutionInput(
            name="b",
            data_type="string",
            source=io_pb2.INPUT_SOURCE_ENVIRONMENT_VARIABLE,
            environment_variable_name="B",
        ),
        io_pb2.ExecutionInput(
            name="c",
            data_type="number",
            source=io_pb2.INPUT_SOURCE_ENDPOINT,
            endpoint_input_name="c_in",
        ),
        io_pb2.ExecutionInput(
            name="d", data_type="json", source=io_pb2.INPUT_SOURCE_IS_NULL, is_null=True
        ),
        io_pb2.ExecutionInput(name="e", data_type="number", source=io_pb2.INPUT_SOURCE_RUN),
    ]
    inputs[2].value.number_value = 4.0
    inputs[4].value.struct_value.update({"k": [1, 2]})
    steps = [
        epb.Step(
            name="train",
            commit_id="abc",
            repository_url="https://git/r",
            repository_branch="main",
            requirements_path="requirements.txt",
            origin=epb.STEP_ORIGIN_GIT_REPOSITORY,
        )
    ]
    execution_id = new_execution(client, deployment_name=name, inputs=inputs, steps=steps)
    client.start(execution_id)
    outputs = [
        io_pb2.ExecutionOutput(
            name="p",
            data_type="number",
            destination=io_pb2.OUTPUT_DESTINATION_ENDPOINT,
            endpoint_output_name="p_out",
        ),
        io_pb2.ExecutionOutput(
            name="q", data_type="json", destination=io_pb2.OUTPUT_DESTINATION_IS_NULL, is_null=True
        ),
        io_pb2.ExecutionOutput(
            name="r", data_type="string", destination=io_pb2.OUTPUT_DESTINATION_RUN
        ),
    ]
    outputs[0].value.number_value = 0.5
    outputs[2].value.string_value = "done"
    client.set_execution_outputs(execution_id, outputs=outputs)

    running = sdk.get_pipeline_execution(execution_id)
    assert set(running) == EXECUTION_KEYS
    assert running["status"] == "running"
    assert running["end_date"] is None

    client.stop(execution_id, "SUCCESS")
    info = sdk.get_pipeline_execution(execution_id)
    assert set(info) == EXECUTION_KEYS
    assert info["execution_id"] == execution_id
    assert info["status"] == "success"
    assert is_utc_iso(info["created_at"])
    assert is_utc_iso(info["end_date"])
    assert isinstance(info["created_by"], str)
    assert info["pipeline_name"] == "pipe"
    assert info["deployment_name"] == name
    assert len(info["steps"]) == 1
    assert set(info["steps"][0]) == STEP_KEYS
    assert info["steps"][0]["origin"] == "git_repository"
    assert info["steps"][0]["commit_id"] == "abc"
    assert info["steps"][0]["repository_branch"] == "main"
    assert [set(i) for i in info["inputs"]] == [
        INPUT_BASE | {"constant_value"},
        INPUT_BASE | {"environment_variable_name"},
        INPUT_BASE | {"endpoint_input_name"},
        INPUT_BASE | {"is_null"},
        INPUT_BASE,
    ]
    assert [i["source"] for i in info["inputs"]] == [
        "constant",
        "environment_variable",
        "endpoint",
        "is_null",
        "run",
    ]
    assert [set(o) for o in info["outputs"]] == [
        OUTPUT_BASE | {"endpoint_output_name"},
        OUTPUT_BASE | {"is_null"},
        OUTPUT_BASE,
    ]
    assert [o["destination"] for o in info["outputs"]] == ["endpoint", "is_null", "run"]

    assert sdk.get_pipeline_execution_input(execution_id, "c") == {
        "pipeline_input_name": "c",
        "data_type": "number",
        "source": "endpoint",
        "endpoint_input_name": "c_in",
        "value": 4.0,
    }
    assert sdk.get_pipeline_execution_input(execution_id, "e")["value"] == {"k": [1, 2]}
    assert sdk.get_pipeline_execution_output(execution_id, "p") == {
        "pipeline_output_name": "p",
        "data_type": "number",
        "destination": "endpoint",
        "endpoint_output_name": "p_out",
        "value": 0.5,
    }
    assert sdk.get_pipeline_execution_output(execution_id, "r")["value"] == "done"
    with pytest.raises(NotFound, match=f"input '{execution_id}/nope' not found"):
        sdk.get_pipeline_execution_input(execution_id, "nope")
    with pytest.raises(NotFound, match=f"output '{execution_id}/nope' not found"):
        sdk.get_pipeline_execution_output(execution_id, "nope")

    assert sdk.delete_pipeline_execution(execution_id) == {"execution_id": execution_id}
    with pytest.raises(NotFound, match=f"execution '{execution_id}' not found"):
        sdk.get_pipeline_execution(execution_id)
    with pytest.raises(NotFound, match=execution_id):
        sdk.delete_pipeline_execution(execution_id)
    sdk.delete_deployment(name)


def test_craftai_logs(client: TrackingClient) -> None:
    sdk = CraftAiSdk(client)
    execution_id = new_execution(client)
    base = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    client.append_logs(
        execution_id,
        [
            epb.LogEntry(
                message=f"line {i}",
                timestamp=to_timestamp(base + dt.timedelta(minutes=i)),
                stream=epb.LOG_STREAM_STDERR if i == 2 else epb.LOG_STREAM_STDOUT,
            )
            for i in range(5)
        ],
    )
    logs = sdk.get_pipeline_execution_logs(execution_id)
    assert [set(entry) for entry in logs] == [{"message", "timestamp", "stream"}] * 5
    assert [entry["message"] for entry in logs] == [f"line {i}" for i in range(5)]
    assert logs[0]["timestamp"] == "2026-01-01T12:00:00+00:00"
    assert [entry["stream"] for entry in logs] == ["stdout", "stdout", "stderr", "stdout", "stdout"]
    window = sdk.get_pipeline_execution_logs(
        execution_id,
        from_datetime=base + dt.timedelta(minutes=1),
        to_datetime=base + dt.timedelta(minutes=3),
    )
    assert [entry["message"] for entry in window] == ["line 1", "line 2"]  # to_time excluded
    limited = sdk.get_pipeline_execution_logs(execution_id, limit=2)
    assert [entry["message"] for entry in limited] == ["line 0", "line 1"]
    missing = unique("missing")
    with pytest.raises(NotFound, match=f"execution '{missing}' not found"):
        sdk.get_pipeline_execution_logs(missing)


def test_craftai_created_by_is_who_created_the_deployment(make_server: ServerFactory) -> None:
    server = make_server(auth="on", token_cache_seconds=0, rate_limit_per_second=0)
    _, alice = new_token(server, "WRITER", "alice")
    _, bob = new_token(server, "WRITER", "bob")
    name = unique("dep")
    with TrackingClient(server.address, token=alice) as as_alice:
        as_alice.create_deployment(name, "pipe", "ENDPOINT")
    with TrackingClient(server.address, token=bob) as as_bob:
        in_deployment = new_execution(as_bob, deployment_name=name)
        standalone = new_execution(as_bob)
        assert as_bob.get_execution(in_deployment).created_by == "bob"
        sdk = CraftAiSdk(as_bob)
        assert sdk.get_pipeline_execution(in_deployment)["created_by"] == "alice"
        assert sdk.get_pipeline_execution(standalone)["created_by"] == "bob"


def test_craftai_logs_past_the_lines_of_one_read(client: TrackingClient) -> None:
    sdk = CraftAiSdk(client)
    execution_id = new_execution(client)
    append_in_batches(client, execution_id, [f"line {i}" for i in range(MANY)])
    every = sdk.get_pipeline_execution_logs(execution_id)
    assert [entry["message"] for entry in every] == [f"line {i}" for i in range(MANY)]
    limited = sdk.get_pipeline_execution_logs(execution_id, limit=10_500)
    assert [entry["message"] for entry in limited] == [f"line {i}" for i in range(10_500)]


def test_craftai_logs_past_the_bytes_of_one_read(client: TrackingClient) -> None:
    sdk = CraftAiSdk(client)
    execution_id = new_execution(client)
    lines = [f"{i:02d}" + "x" * 60_000 for i in range(50)]  # 3 MB: more than one 2 MiB read
    for first in range(0, len(lines), 20):
        client.append_logs(execution_id, lines[first : first + 20])
    assert len(client.get_execution_logs(execution_id, limit=45)) < 45  # one read stops early
    limited = sdk.get_pipeline_execution_logs(execution_id, limit=45)
    assert [entry["message"] for entry in limited] == lines[:45]
    assert [entry["message"] for entry in sdk.get_pipeline_execution_logs(execution_id)] == lines


def test_craftai_missing_deployment_is_not_found(client: TrackingClient) -> None:
    sdk = CraftAiSdk(client)
    missing = unique("missing")
    with pytest.raises(NotFound, match=f"deployment '{missing}' not found"):
        sdk.get_deployment(missing)
    with pytest.raises(NotFound, match=missing):
        sdk.delete_deployment(missing)


def test_whole_numbers_stay_whole_in_every_facade(client: TrackingClient) -> None:
    execution_id = new_execution(client, job_name="j")
    client.start(execution_id)
    output = io_pb2.ExecutionOutput(name="batches")
    output.value.number_value = 120
    client.set_execution_outputs(execution_id, outputs=[output], result={"epochs": 4, "loss": 0.25})
    client.stop(execution_id, "SUCCESS")
    foundations = Deployment(client, execution_id).fetch_job_results()
    monitor = JobMonitor(client, execution_id).get_status()
    craft = CraftAiSdk(client).get_pipeline_execution_output(execution_id, "batches")
    for shown in (foundations["global_stage_context"]["stage_output"], monitor["result"]):
        assert (shown, type(shown["epochs"])) == ({"epochs": 4, "loss": 0.25}, int)
    assert repr(craft["value"]) == "120"
