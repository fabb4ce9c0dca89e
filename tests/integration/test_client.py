"""TrackingClient and AsyncTrackingClient against the real server, on each database.

Every public method is called as a user would call it, and the tests check what the user
sees: typed values that round-trip, iterators over many pages, streams that end, and the
RemoteException subclasses with the server's explanation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, closing
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

from tests.support.factories import unique
from tests.support.server import ServerThread
from tracking.client import (
    Aborted,
    AlreadyExists,
    AsyncTrackingClient,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RemoteException,
    TrackingClient,
    to_timestamp,
)
from tracking.v1 import deployment_pb2 as dpb
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import io_pb2
from tracking.v1 import status_pb2 as spb
from tracking.v1 import tracking_service_pb2 as pb

STREAM_TIMEOUT = 30.0  # a stream that should end but hangs fails with DeadlineExceeded
BASE = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)

WAITING = spb.RUNNING_STATUS_WAITING
RUNNING = spb.RUNNING_STATUS_RUNNING
SUSPENDED = spb.RUNNING_STATUS_SUSPENDED
SUCCESS = spb.RUNNING_STATUS_SUCCESS
ERROR = spb.RUNNING_STATUS_ERROR
CANCELED = spb.RUNNING_STATUS_CANCELED
CANCEL_REQUESTED = spb.RUNNING_STATUS_CANCEL_REQUESTED
STDOUT = epb.LOG_STREAM_STDOUT
STDERR = epb.LOG_STREAM_STDERR

RESULT = {
    "accuracy": 0.93,
    "classes": ["setosa", "virginica"],
    "params": {"depth": 4.0, "pruned": True},
    "note": None,
}


@pytest.fixture
def client(server: ServerThread) -> Iterator[TrackingClient]:
    with TrackingClient(server.address) as client:
        yield client


@pytest.fixture
async def aclient(server: ServerThread) -> AsyncIterator[AsyncTrackingClient]:
    async with AsyncTrackingClient(server.address) as client:
        yield client


def without(message: Message, *fields: str) -> Message:
    """A copy of `message` with `fields` cleared."""
    copy = type(message)()
    copy.CopyFrom(message)
    for name in fields:
        copy.ClearField(name)
    return copy


def events(stream: Iterator[pb.WatchStatusResponse]) -> Iterator[epb.ExecutionEvent]:
    """The events of a watch, heartbeats skipped."""
    for response in stream:
        if response.HasField("event"):
            yield response.event


async def async_events(
    stream: AsyncIterator[pb.WatchStatusResponse],
) -> AsyncIterator[epb.ExecutionEvent]:
    async for response in stream:
        if response.HasField("event"):
            yield response.event


def timed_lines(count: int) -> list[epb.LogEntry]:
    """m0 .. m{count-1}, a minute apart from BASE; odd ones on stderr."""
    return [
        epb.LogEntry(
            message=f"m{i}",
            timestamp=to_timestamp(BASE + dt.timedelta(minutes=i)),
            stream=STDERR if i % 2 else STDOUT,
        )
        for i in range(count)
    ]


def output(name: str, path: str) -> io_pb2.ExecutionOutput:
    return io_pb2.ExecutionOutput(
        name=name,
        data_type="string",
        destination=io_pb2.OUTPUT_DESTINATION_DATASTORE,
        datastore_path=path,
        value=struct_pb2.Value(string_value=path),
    )


EPOCHS = io_pb2.ExecutionInput(
    name="epochs",
    data_type="number",
    source=io_pb2.INPUT_SOURCE_CONSTANT,
    constant_value="3",
    value=struct_pb2.Value(number_value=3),
)


# Sync client: deployments


def test_deployment_fields_round_trip(client: TrackingClient) -> None:
    name = unique("dep")
    created = client.create_deployment(
        name,
        "train",
        "periodic",
        schedule="0 3 * * *",
        description="nightly training",
        mode="low_latency",
        status="up",
        labels={"team": "ml"},
        inputs_mapping=[
            io_pb2.InputMapping(pipeline_input_name="epochs", source=io_pb2.INPUT_SOURCE_CONSTANT)
        ],
        outputs_mapping=[
            io_pb2.OutputMapping(pipeline_output_name="model", datastore_path="s3://m")
        ],
        pods=[dpb.Pod(pod_id="pod-1", status="Running")],
        endpoint_token="tok",
    )
    assert isinstance(created, dpb.Deployment)
    assert (created.name, created.pipeline_name, created.description) == (
        name,
        "train",
        "nightly training",
    )
    assert created.execution_rule == dpb.EXECUTION_RULE_PERIODIC
    assert created.mode == dpb.DEPLOYMENT_MODE_LOW_LATENCY
    assert created.status == dpb.DEPLOYMENT_STATUS_UP
    assert created.is_enabled  # the client's default
    assert dict(created.labels) == {"team": "ml"}
    assert created.inputs_mapping[0].source == io_pb2.INPUT_SOURCE_CONSTANT
    assert created.outputs_mapping[0].datastore_path == "s3://m"
    assert [(p.pod_id, p.status) for p in created.pods] == [("pod-1", "Running")]
    assert created.endpoint_token == "tok"
    assert created.human_readable_schedule
    assert created.next_run_time.seconds > 0
    fetched = client.get_deployment(name)
    assert isinstance(fetched, dpb.Deployment)
    assert without(fetched, "next_run_time") == without(created, "next_run_time")


def test_deployment_defaults_and_disabled(client: TrackingClient) -> None:
    created = client.create_deployment(unique("dep"), "serve", "endpoint", is_enabled=False)
    assert created.execution_rule == dpb.EXECUTION_RULE_ENDPOINT
    assert created.mode == dpb.DEPLOYMENT_MODE_ELASTIC
    assert created.status == dpb.DEPLOYMENT_STATUS_PENDING
    assert not created.is_enabled
    with pytest.raises(FailedPrecondition, match="disabled"):
        client.create_execution(deployment_name=created.name)


def test_list_deployments_across_pages_with_a_filter(client: TrackingClient) -> None:
    team = unique("team")
    names = sorted(
        client.create_deployment(unique("dep"), "p", "endpoint", labels={"team": team}).name
        for _ in range(5)
    )
    disabled = client.create_deployment(
        unique("dep"), "p", "endpoint", labels={"team": team}, is_enabled=False
    ).name
    query = f'labels.team = "{team}" AND is_enabled = true'
    page, token = client.list_deployments_page(filter=query, page_size=2)
    assert [d.name for d in page] == names[:2]
    assert token
    page, token = client.list_deployments_page(filter=query, page_size=2, page_token=token)
    assert [d.name for d in page] == names[2:4]
    listed = list(client.list_deployments(filter=query, page_size=2))
    assert all(isinstance(d, dpb.Deployment) for d in listed)
    assert [d.name for d in listed] == names
    off = client.list_deployments(filter=f'labels.team = "{team}" AND is_enabled = false')
    assert [d.name for d in off] == [disabled]


def test_update_deployment_changes_only_the_named_fields(client: TrackingClient) -> None:
    name = unique("dep")
    before = client.create_deployment(
        name, "train", "periodic", schedule="0 3 * * *", description="old", labels={"team": "ml"}
    )
    after = client.update_deployment(name, description="new")
    assert after.description == "new"
    ignored = ("description", "update_time", "next_run_time")
    assert without(after, *ignored) == without(before, *ignored)

    after = client.update_deployment(name, is_enabled=False, labels={}, pipeline_name="train-2")
    assert (after.is_enabled, dict(after.labels), after.pipeline_name) == (False, {}, "train-2")
    assert after.description == "new"
    assert after.schedule == "0 3 * * *"
    assert client.get_deployment(name).pipeline_name == "train-2"


def test_delete_deployment_takes_its_executions(client: TrackingClient) -> None:
    name = client.create_deployment(unique("dep"), "p", "endpoint").name
    ids = [client.create_execution(deployment_name=name).execution_id for _ in range(2)]
    deleted = client.delete_deployment(name)
    assert isinstance(deleted, pb.DeleteDeploymentResponse)
    assert (deleted.name, deleted.deleted_execution_count) == (name, 2)
    assert deleted.execution_rule == dpb.EXECUTION_RULE_ENDPOINT
    with pytest.raises(NotFound):
        client.get_deployment(name)
    for execution_id in ids:
        with pytest.raises(NotFound):
            client.get_execution(execution_id)


# Sync client: executions


def test_execution_round_trip(client: TrackingClient) -> None:
    deployment = client.create_deployment(unique("dep"), "inherited", "endpoint")
    created = client.create_execution(
        deployment_name=deployment.name,
        job_name="fit",
        job_type="train",
        experiment_name="iris",
        model_run_id="run-7",
        inputs=[EPOCHS],
        labels={"owner": "ana"},
        steps=[epb.Step(name="prepare", origin=epb.STEP_ORIGIN_LOCAL)],
    )
    assert isinstance(created, epb.Execution)
    assert created.execution_id.startswith(f"{deployment.name}-")
    assert created.pipeline_name == "inherited"
    assert created.job_type == epb.JOB_TYPE_TRAIN
    assert (created.job_name, created.experiment_name, created.model_run_id) == (
        "fit",
        "iris",
        "run-7",
    )
    assert (created.job_status.status, created.job_status.revision) == (WAITING, 1)
    assert dict(created.labels) == {"owner": "ana"}
    assert created.steps[0].origin == epb.STEP_ORIGIN_LOCAL
    assert client.get_execution(created.execution_id) == created

    found = client.get_execution_input(created.execution_id, "epochs")
    assert isinstance(found, io_pb2.ExecutionInput)
    assert found == EPOCHS
    with pytest.raises(NotFound, match="nope"):
        client.get_execution_input(created.execution_id, "nope")
    assert client.get_deployment(deployment.name).last_execution_id == created.execution_id

    deleted = client.delete_execution(created.execution_id)
    assert deleted == pb.DeleteExecutionResponse(execution_id=created.execution_id)
    with pytest.raises(NotFound):
        client.get_execution(created.execution_id)


def test_standalone_execution_with_a_chosen_id(client: TrackingClient) -> None:
    chosen = unique("Job")
    created = client.create_execution(execution_id=chosen, pipeline_name="solo")
    assert (created.execution_id, created.deployment_name) == (chosen, "")
    with pytest.raises(AlreadyExists, match=chosen):
        client.create_execution(execution_id=chosen, pipeline_name="solo")


def test_create_execution_twice_with_one_request_id_makes_one(client: TrackingClient) -> None:
    deployment = client.create_deployment(unique("dep"), "p", "endpoint").name
    request_id = unique("req")
    first = client.create_execution(
        deployment_name=deployment, job_name="once", request_id=request_id
    )
    second = client.create_execution(
        deployment_name=deployment, job_name="once", request_id=request_id
    )
    assert second == first
    query = f'deployment_name = "{deployment}"'
    assert [e.execution_id for e in client.list_executions(filter=query)] == [first.execution_id]
    with pytest.raises(AlreadyExists, match=request_id):
        client.create_execution(deployment_name=deployment, job_name="other", request_id=request_id)
    # Without a request_id the client makes a fresh one per call: two calls, two executions.
    a = client.create_execution(deployment_name=deployment, job_name="twice")
    b = client.create_execution(deployment_name=deployment, job_name="twice")
    assert a.execution_id != b.execution_id


def test_list_executions_across_pages_with_a_filter(client: TrackingClient) -> None:
    deployment = client.create_deployment(unique("dep"), "p", "endpoint").name
    created = [
        client.create_execution(
            deployment_name=deployment, labels={"kind": "odd" if i % 2 else "even"}
        ).execution_id
        for i in range(5)
    ]
    newest_first = created[::-1]
    query = f'deployment_name = "{deployment}"'
    page, token = client.list_executions_page(filter=query, page_size=2)
    assert [e.execution_id for e in page] == newest_first[:2]
    assert all(isinstance(e, epb.Execution) for e in page)
    assert token
    assert [e.execution_id for e in client.list_executions(filter=query, page_size=2)] == (
        newest_first
    )
    client.start(created[0])
    client.start(created[3])
    running = client.list_executions(filter=f"{query} AND status = RUNNING", page_size=1)
    assert [e.execution_id for e in running] == [created[3], created[0]]
    odd = client.list_executions(filter=f'{query} AND labels.kind = "odd"', page_size=1)
    assert [e.execution_id for e in odd] == [created[3], created[1]]


# Sync client: status


def test_status_transitions_and_revisions(client: TrackingClient) -> None:
    execution_id = client.create_execution(job_name="transitions").execution_id
    started = client.start(execution_id, phase="loading", expected_revision=1)
    assert isinstance(started, spb.JobStatus)
    assert (started.status, started.revision, started.phase) == (RUNNING, 2, "loading")
    assert started.HasField("start_time")
    assert not started.HasField("end_time")

    progressed = client.update_progress(execution_id, 0.5, phase="training")
    assert (progressed.status, progressed.revision) == (RUNNING, 3)
    assert (progressed.progress, progressed.phase) == (0.5, "training")

    suspended = client.suspend(execution_id, reason="maintenance")
    assert (suspended.status, suspended.revision, suspended.phase) == (SUSPENDED, 4, "maintenance")

    resumed = client.resume(execution_id, expected_revision=4)
    assert (resumed.status, resumed.revision) == (RUNNING, 5)

    stopped = client.stop(execution_id, "error", "out of memory")
    assert (stopped.status, stopped.revision, stopped.stop_message) == (ERROR, 6, "out of memory")
    assert stopped.HasField("end_time")
    assert client.get_job_status(execution_id) == stopped
    assert client.get_execution(execution_id).job_status == stopped


def test_stop_with_success_completes_the_progress(client: TrackingClient) -> None:
    execution_id = client.create_execution().execution_id
    client.start(execution_id)
    done = client.stop(execution_id)
    assert (done.status, done.progress, done.revision) == (SUCCESS, 1.0, 3)


def test_cancel_execution(client: TrackingClient) -> None:
    waiting = client.create_execution().execution_id
    canceled = client.cancel_execution(waiting, reason="not needed")
    assert isinstance(canceled, spb.JobStatus)
    assert (canceled.status, canceled.revision) == (CANCELED, 2)
    assert (canceled.cancel_reason, canceled.stop_message) == ("not needed", "not needed")
    assert canceled.HasField("end_time")

    running = client.create_execution().execution_id
    client.start(running)
    requested = client.cancel_execution(running, reason="stop please")
    assert (requested.status, requested.revision) == (CANCEL_REQUESTED, 3)
    assert requested.cancel_reason == "stop please"
    again = client.cancel_execution(running)
    assert (again.status, again.revision) == (CANCEL_REQUESTED, 3)  # nothing changed
    assert client.update_progress(running, 0.9).revision == 4
    final = client.stop(running, "canceled", "stopped on request")
    assert (final.status, final.revision) == (CANCELED, 5)


# Sync client: outputs, steps, logs


def test_set_execution_outputs_with_a_dict_result(client: TrackingClient) -> None:
    execution_id = client.create_execution().execution_id
    updated = client.set_execution_outputs(
        execution_id,
        outputs=[output("model", "s3://m")],
        result=RESULT,
        export_paths={"predictions": "s3://p"},
        source_views={"notebook": "https://nb"},
    )
    assert isinstance(updated, epb.Execution)
    assert json_format.MessageToDict(updated.result) == RESULT
    assert updated.job_status.revision == 2

    merged = client.set_execution_outputs(
        execution_id, outputs=[output("report", "s3://r")], export_paths={"report": "s3://r"}
    )
    assert [o.name for o in merged.outputs] == ["model", "report"]
    assert json_format.MessageToDict(merged.result) == RESULT  # no result given: unchanged
    assert dict(merged.export_paths) == {"predictions": "s3://p", "report": "s3://r"}
    assert dict(merged.source_views) == {"notebook": "https://nb"}
    assert merged.job_status.revision == 3

    found = client.get_execution_output(execution_id, "model")
    assert isinstance(found, io_pb2.ExecutionOutput)
    assert found == output("model", "s3://m")
    with pytest.raises(NotFound):
        client.get_execution_output(execution_id, "nope")


def test_update_step_adds_or_replaces(client: TrackingClient) -> None:
    execution_id = client.create_execution(
        steps=[epb.Step(name="prepare", status=WAITING)]
    ).execution_id
    prepare = epb.Step(
        name="prepare", status=RUNNING, commit_id="abc123", start_time=to_timestamp(BASE)
    )
    returned = client.update_step(execution_id, prepare)
    assert isinstance(returned, epb.Step)
    assert returned == prepare
    client.update_step(execution_id, epb.Step(name="train", status=WAITING))
    execution = client.get_execution(execution_id)
    assert list(execution.steps) == [prepare, epb.Step(name="train", status=WAITING)]
    assert execution.job_status.revision == 3


def test_append_logs_with_plain_strings(client: TrackingClient) -> None:
    execution_id = client.create_execution().execution_id
    assert client.append_logs(execution_id, ["hello\n", "world"]) == 2
    entry = epb.LogEntry(message="oops", stream=STDERR, step_name="train")
    assert client.append_logs(execution_id, [entry]) == 3
    lines = client.get_execution_logs(execution_id)
    assert all(isinstance(e, epb.LogEntry) for e in lines)
    assert [(e.seq, e.stream, e.message) for e in lines] == [
        (1, STDOUT, "hello"),
        (2, STDOUT, "world"),
        (3, STDERR, "oops"),
    ]
    assert lines[2].step_name == "train"
    assert all(e.timestamp.seconds > 0 for e in lines)


def test_get_execution_logs_by_time_limit_and_stream(client: TrackingClient) -> None:
    execution_id = client.create_execution().execution_id
    assert client.append_logs(execution_id, timed_lines(10)) == 10

    def messages(**query: Any) -> list[str]:
        return [e.message for e in client.get_execution_logs(execution_id, **query)]

    minute = dt.timedelta(minutes=1)
    assert messages(from_time=BASE + 3 * minute, to_time=BASE + 6 * minute) == ["m3", "m4", "m5"]
    naive = (BASE + 8 * minute).replace(tzinfo=None)  # taken as UTC
    assert messages(from_time=naive) == ["m8", "m9"]
    assert messages(limit=2) == ["m0", "m1"]
    assert messages(stream="stderr") == ["m1", "m3", "m5", "m7", "m9"]
    assert messages(stream=STDOUT, from_time=BASE + 4 * minute, limit=2) == ["m4", "m6"]
    assert messages(after_seq=8) == ["m8", "m9"]


# Sync client: streams


def test_watch_status_from_snapshot_to_the_end(client: TrackingClient) -> None:
    execution_id = client.create_execution().execution_id
    stream = events(client.watch_status(execution_id=execution_id, timeout=STREAM_TIMEOUT))
    snapshot = next(stream)
    assert (snapshot.snapshot, snapshot.execution_id, snapshot.revision) == (True, execution_id, 1)
    assert snapshot.job_status.status == WAITING
    client.start(execution_id)
    client.update_progress(execution_id, 0.5)
    client.stop(execution_id)
    rest = list(stream)  # ends by itself after the terminal event
    assert [(e.revision, e.job_status.status, list(e.changes)) for e in rest] == [
        (2, RUNNING, [epb.CHANGE_KIND_STATUS]),
        (3, RUNNING, [epb.CHANGE_KIND_PROGRESS]),
        (4, SUCCESS, [epb.CHANGE_KIND_STATUS]),
    ]
    assert not any(e.snapshot for e in rest)

    resumed = client.watch_status(
        execution_id=execution_id, after_revision=2, timeout=STREAM_TIMEOUT
    )
    assert [e.revision for e in events(resumed)] == [3, 4]


def test_watch_a_deployment_and_resume_with_its_token(client: TrackingClient) -> None:
    deployment = client.create_deployment(unique("dep"), "p", "endpoint").name
    first = client.create_execution(deployment_name=deployment).execution_id
    watch = client.watch_status(deployment_name=deployment, timeout=STREAM_TIMEOUT)
    with closing(watch):
        stream = events(watch)
        snapshot = next(stream)
        assert (snapshot.snapshot, snapshot.execution_id) == (True, first)
        assert snapshot.resume_token
        second = client.create_execution(deployment_name=deployment).execution_id
        created = next(stream)
        assert (created.execution_id, list(created.changes)) == (
            second,
            [epb.CHANGE_KIND_CREATED],
        )
    client.start(first)
    resumed = client.watch_status(
        deployment_name=deployment, resume_token=created.resume_token, timeout=STREAM_TIMEOUT
    )
    with closing(resumed):
        started = next(events(resumed))
    assert (started.execution_id, started.revision, started.job_status.status) == (
        first,
        2,
        RUNNING,
    )


def test_stream_logs_follows_until_the_end(client: TrackingClient) -> None:
    execution_id = client.create_execution().execution_id
    client.start(execution_id)
    client.append_logs(execution_id, [f"old {i}" for i in range(3)])
    stream = client.stream_logs(execution_id, follow=True, timeout=STREAM_TIMEOUT)
    replay = next(r for r in stream if not r.HasField("heartbeat"))
    assert [(e.seq, e.message) for e in replay.entries] == [
        (1, "old 0"),
        (2, "old 1"),
        (3, "old 2"),
    ]
    for batch in range(3):
        client.append_logs(execution_id, [f"new {batch}.{i}" for i in range(2)])
    client.stop(execution_id)
    rest = [e.message for response in stream for e in response.entries]  # ends by itself
    assert rest == [f"new {b}.{i}" for b in range(3) for i in range(2)]


def test_stream_logs_without_follow(client: TrackingClient) -> None:
    execution_id = client.create_execution().execution_id
    client.append_logs(execution_id, timed_lines(6))

    def read(**query: Any) -> list[str]:
        stream = client.stream_logs(execution_id, timeout=STREAM_TIMEOUT, **query)
        return [e.message for response in stream for e in response.entries]

    assert read() == [f"m{i}" for i in range(6)]
    assert read(tail=2) == ["m4", "m5"]
    assert read(after_seq=4) == ["m4", "m5"]
    assert read(stream="stderr") == ["m1", "m3", "m5"]
    assert read(since=BASE + dt.timedelta(minutes=3), stream=STDOUT) == ["m4"]


# Sync client: errors


MISSING_CALLS: list[tuple[str, Callable[[TrackingClient, str], object]]] = [
    ("get_deployment", lambda c, name: c.get_deployment(name)),
    ("update_deployment", lambda c, name: c.update_deployment(name, description="d")),
    ("delete_deployment", lambda c, name: c.delete_deployment(name)),
    ("create_execution", lambda c, name: c.create_execution(deployment_name=name)),
    ("get_execution", lambda c, name: c.get_execution(name)),
    ("delete_execution", lambda c, name: c.delete_execution(name)),
    ("get_job_status", lambda c, name: c.get_job_status(name)),
    ("start", lambda c, name: c.start(name)),
    ("cancel_execution", lambda c, name: c.cancel_execution(name)),
    ("set_execution_outputs", lambda c, name: c.set_execution_outputs(name, result={})),
    ("update_step", lambda c, name: c.update_step(name, epb.Step(name="s"))),
    ("append_logs", lambda c, name: c.append_logs(name, ["x"])),
    ("get_execution_logs", lambda c, name: c.get_execution_logs(name)),
    (
        "watch_status",
        lambda c, name: next(c.watch_status(execution_id=name, timeout=STREAM_TIMEOUT)),
    ),
    ("stream_logs", lambda c, name: list(c.stream_logs(name, timeout=STREAM_TIMEOUT))),
]


@pytest.mark.parametrize(("method", "call"), MISSING_CALLS, ids=[m for m, _ in MISSING_CALLS])
def test_missing_resource_raises_not_found(
    client: TrackingClient, method: str, call: Callable[[TrackingClient, str], object]
) -> None:
    missing = unique("missing")
    with pytest.raises(NotFound) as caught:
        call(client, missing)
    error = caught.value
    assert isinstance(error, RemoteException)
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert missing in error.message
    assert str(error).startswith("NOT_FOUND: ")
    assert isinstance(error.__cause__, grpc.RpcError)


BAD_CALLS: list[tuple[str, str, Callable[[TrackingClient], object]]] = [
    (
        "create_deployment",
        "deployment.name",
        lambda c: c.create_deployment("Bad Name", "p", "endpoint"),
    ),
    (
        "create_deployment/schedule",
        "deployment.schedule",
        lambda c: c.create_deployment(unique("dep"), "p", "periodic", schedule="every day"),
    ),
    ("get_deployment", "name", lambda c: c.get_deployment("Bad_Name")),
    ("list_deployments", "filter", lambda c: list(c.list_deployments(filter="colour = red"))),
    (
        "create_execution",
        "execution.execution_id",
        lambda c: c.create_execution(execution_id="has space"),
    ),
    ("get_execution", "execution_id", lambda c: c.get_execution("a b")),
    ("list_executions", "filter", lambda c: list(c.list_executions(filter="status = DONE"))),
    (
        "update_progress",
        "progress.progress",
        lambda c: c.update_progress(unique("e"), 1.5),
    ),
    (
        "get_execution_logs",
        "to_time",
        lambda c: c.get_execution_logs(unique("e"), from_time=BASE, to_time=BASE - dt.timedelta(1)),
    ),
    (
        "watch_status",
        "execution_id",
        lambda c: next(c.watch_status(execution_id="bad id", timeout=STREAM_TIMEOUT)),
    ),
    (
        "stream_logs",
        "tail",
        lambda c: list(c.stream_logs(unique("e"), tail=-1, timeout=STREAM_TIMEOUT)),
    ),
]


@pytest.mark.parametrize(("method", "field", "call"), BAD_CALLS, ids=[m for m, _, _ in BAD_CALLS])
def test_bad_request_raises_invalid_argument_naming_the_field(
    client: TrackingClient, method: str, field: str, call: Callable[[TrackingClient], object]
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        call(client)
    error = caught.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [v.field for v in error.field_violations]
    assert all(v.description for v in error.field_violations)
    assert field in str(error)


def test_illegal_transition_raises_failed_precondition_naming_both_states(
    client: TrackingClient,
) -> None:
    execution_id = client.create_execution().execution_id
    with pytest.raises(FailedPrecondition) as caught:
        client.resume(execution_id)
    assert "WAITING" in caught.value.message
    assert "RUNNING" in caught.value.message
    client.start(execution_id)
    client.stop(execution_id)
    with pytest.raises(FailedPrecondition) as caught:
        client.start(execution_id)
    assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "SUCCESS" in caught.value.message
    assert "RUNNING" in caught.value.message
    with pytest.raises(FailedPrecondition):
        client.append_logs(execution_id, ["too late"])
    assert client.get_job_status(execution_id).revision == 3  # nothing changed


def test_stale_expected_revision_raises_aborted(client: TrackingClient) -> None:
    execution_id = client.create_execution().execution_id
    client.start(execution_id)
    with pytest.raises(Aborted) as caught:
        client.update_progress(execution_id, 0.5, expected_revision=1)
    assert caught.value.code == grpc.StatusCode.ABORTED
    assert "revision 2" in caught.value.message
    unchanged = client.get_job_status(execution_id)
    assert (unchanged.revision, unchanged.progress) == (2, 0.0)
    assert client.update_progress(execution_id, 0.5, expected_revision=2).revision == 3


def test_duplicate_deployment_raises_already_exists(client: TrackingClient) -> None:
    name = client.create_deployment(unique("dep"), "p", "endpoint").name
    with pytest.raises(AlreadyExists, match=name):
        client.create_deployment(name, "p", "endpoint")


# Async client


async def test_async_deployments(aclient: AsyncTrackingClient) -> None:
    team = unique("team")
    names = sorted(
        [
            (
                await aclient.create_deployment(
                    unique("dep"), "p", "endpoint", labels={"team": team}
                )
            ).name
            for _ in range(3)
        ]
    )
    first = await aclient.get_deployment(names[0])
    assert isinstance(first, dpb.Deployment)
    assert (first.name, first.pipeline_name, first.is_enabled) == (names[0], "p", True)

    query = f'labels.team = "{team}"'
    page, token = await aclient.list_deployments_page(filter=query, page_size=2)
    assert ([d.name for d in page], bool(token)) == (names[:2], True)
    assert [d.name async for d in aclient.list_deployments(filter=query, page_size=2)] == names

    updated = await aclient.update_deployment(names[0], description="new")
    assert updated.description == "new"
    ignored = ("description", "update_time")
    assert without(updated, *ignored) == without(first, *ignored)

    deleted = await aclient.delete_deployment(names[0])
    assert (deleted.name, deleted.deleted_execution_count) == (names[0], 0)
    with pytest.raises(NotFound):
        await aclient.get_deployment(names[0])


async def test_async_executions(aclient: AsyncTrackingClient) -> None:
    deployment = (await aclient.create_deployment(unique("dep"), "p", "endpoint")).name
    request_id = unique("req")
    first = await aclient.create_execution(
        deployment_name=deployment, job_type="inference", inputs=[EPOCHS], request_id=request_id
    )
    again = await aclient.create_execution(
        deployment_name=deployment, job_type="inference", inputs=[EPOCHS], request_id=request_id
    )
    assert isinstance(first, epb.Execution)
    assert again == first
    assert (first.job_status.status, first.job_status.revision) == (WAITING, 1)
    assert await aclient.get_execution(first.execution_id) == first
    assert await aclient.get_execution_input(first.execution_id, "epochs") == EPOCHS

    others = [
        (await aclient.create_execution(deployment_name=deployment)).execution_id for _ in range(2)
    ]
    newest_first = [*others[::-1], first.execution_id]
    query = f'deployment_name = "{deployment}"'
    page, token = await aclient.list_executions_page(filter=query, page_size=2)
    assert ([e.execution_id for e in page], bool(token)) == (newest_first[:2], True)
    listed = [e.execution_id async for e in aclient.list_executions(filter=query, page_size=2)]
    assert listed == newest_first

    deleted = await aclient.delete_execution(first.execution_id)
    assert deleted.execution_id == first.execution_id
    with pytest.raises(NotFound):
        await aclient.get_execution(first.execution_id)


async def test_async_status_transitions(aclient: AsyncTrackingClient) -> None:
    execution_id = (await aclient.create_execution()).execution_id
    started = await aclient.start(execution_id, phase="loading", expected_revision=1)
    assert isinstance(started, spb.JobStatus)
    assert (started.status, started.revision, started.phase) == (RUNNING, 2, "loading")
    progressed = await aclient.update_progress(execution_id, 0.25)
    assert (progressed.revision, progressed.progress) == (3, 0.25)
    suspended = await aclient.suspend(execution_id, reason="preempted")
    assert (suspended.status, suspended.revision, suspended.phase) == (SUSPENDED, 4, "preempted")
    resumed = await aclient.resume(execution_id)
    assert (resumed.status, resumed.revision) == (RUNNING, 5)
    requested = await aclient.cancel_execution(execution_id, reason="enough")
    assert (requested.status, requested.revision, requested.cancel_reason) == (
        CANCEL_REQUESTED,
        6,
        "enough",
    )
    stopped = await aclient.stop(execution_id, "canceled", "stopped")
    assert (stopped.status, stopped.revision, stopped.stop_message) == (CANCELED, 7, "stopped")
    assert await aclient.get_job_status(execution_id) == stopped

    waiting = (await aclient.create_execution()).execution_id
    canceled = await aclient.cancel_execution(waiting)
    assert (canceled.status, canceled.revision) == (CANCELED, 2)


async def test_async_outputs_steps_and_logs(aclient: AsyncTrackingClient) -> None:
    execution_id = (await aclient.create_execution()).execution_id
    updated = await aclient.set_execution_outputs(
        execution_id, outputs=[output("model", "s3://m")], result=RESULT
    )
    assert isinstance(updated, epb.Execution)
    assert json_format.MessageToDict(updated.result) == RESULT
    assert await aclient.get_execution_output(execution_id, "model") == output("model", "s3://m")

    step = epb.Step(name="train", status=RUNNING, repository_branch="main")
    assert await aclient.update_step(execution_id, step) == step
    assert list((await aclient.get_execution(execution_id)).steps) == [step]

    assert await aclient.append_logs(execution_id, ["plain\n"]) == 1
    assert await aclient.append_logs(execution_id, timed_lines(4)) == 5
    lines = await aclient.get_execution_logs(execution_id, after_seq=1)
    assert [(e.seq, e.message) for e in lines] == [(2, "m0"), (3, "m1"), (4, "m2"), (5, "m3")]
    minute = dt.timedelta(minutes=1)
    found = await aclient.get_execution_logs(
        execution_id, from_time=BASE + minute, to_time=BASE + 3 * minute, stream="stderr", limit=5
    )
    assert [e.message for e in found] == ["m1"]
    assert [e.message for e in await aclient.get_execution_logs(execution_id, limit=1)] == ["plain"]


async def test_async_watch_status_from_snapshot_to_the_end(aclient: AsyncTrackingClient) -> None:
    execution_id = (await aclient.create_execution()).execution_id
    watch = aclient.watch_status(execution_id=execution_id, timeout=STREAM_TIMEOUT)
    async with aclosing(watch):
        stream = async_events(watch)
        snapshot = await anext(stream)
        assert (snapshot.snapshot, snapshot.revision, snapshot.job_status.status) == (
            True,
            1,
            WAITING,
        )
        await aclient.start(execution_id)
        await aclient.stop(execution_id, "error", "boom")
        rest = [e async for e in stream]  # ends by itself after the terminal event
    assert [(e.revision, e.job_status.status) for e in rest] == [(2, RUNNING), (3, ERROR)]
    assert rest[-1].job_status.stop_message == "boom"

    resumed = aclient.watch_status(
        execution_id=execution_id, after_revision=1, timeout=STREAM_TIMEOUT
    )
    assert [e.revision async for e in async_events(resumed)] == [2, 3]


async def test_async_watch_a_deployment(aclient: AsyncTrackingClient) -> None:
    deployment = (await aclient.create_deployment(unique("dep"), "p", "endpoint")).name
    watch = aclient.watch_status(deployment_name=deployment, timeout=STREAM_TIMEOUT)
    async with aclosing(watch):
        stream = async_events(watch)
        # No open execution yet: no snapshot; the first event is the creation below. The
        # watch is open once the server sends something: wait for the first heartbeat.
        first = await anext(watch)
        assert first.HasField("heartbeat")
        created = (await aclient.create_execution(deployment_name=deployment)).execution_id
        event = await anext(stream)
        assert (event.execution_id, list(event.changes)) == (created, [epb.CHANGE_KIND_CREATED])
        assert event.resume_token


async def test_async_stream_logs_follows_until_the_end(aclient: AsyncTrackingClient) -> None:
    execution_id = (await aclient.create_execution()).execution_id
    await aclient.start(execution_id)
    await aclient.append_logs(execution_id, ["one", "two"])
    stream = aclient.stream_logs(execution_id, follow=True, timeout=STREAM_TIMEOUT)
    async with aclosing(stream):
        replay = await anext(stream)
        while replay.HasField("heartbeat"):
            replay = await anext(stream)
        assert [(e.seq, e.message) for e in replay.entries] == [(1, "one"), (2, "two")]
        await aclient.append_logs(execution_id, ["three"])
        await aclient.stop(execution_id)
        rest = [e.message async for response in stream for e in response.entries]
    assert rest == ["three"]
    tail = aclient.stream_logs(execution_id, tail=1, timeout=STREAM_TIMEOUT)
    assert [e.seq async for response in tail for e in response.entries] == [3]


async def test_async_errors(aclient: AsyncTrackingClient) -> None:
    missing = unique("missing")
    with pytest.raises(NotFound, match=missing) as not_found:
        await aclient.get_execution(missing)
    assert isinstance(not_found.value, RemoteException)
    assert isinstance(not_found.value.__cause__, grpc.aio.AioRpcError)
    with pytest.raises(NotFound):
        await anext(aclient.watch_status(execution_id=missing, timeout=STREAM_TIMEOUT))

    with pytest.raises(InvalidArgument) as invalid:
        await aclient.create_deployment("Bad Name", "p", "endpoint")
    assert "deployment.name" in [v.field for v in invalid.value.field_violations]
    with pytest.raises(InvalidArgument) as invalid:
        await anext(aclient.stream_logs(missing, tail=-1, timeout=STREAM_TIMEOUT))
    assert [v.field for v in invalid.value.field_violations] == ["tail"]

    execution_id = (await aclient.create_execution()).execution_id
    with pytest.raises(Aborted, match="revision 1"):
        await aclient.start(execution_id, expected_revision=7)
    await aclient.start(execution_id)
    await aclient.stop(execution_id)
    with pytest.raises(FailedPrecondition) as failed:
        await aclient.suspend(execution_id)
    assert "SUCCESS" in failed.value.message
    assert "SUSPENDED" in failed.value.message
    with pytest.raises(FailedPrecondition):
        await aclient.append_logs(execution_id, ["too late"])

    name = (await aclient.create_deployment(unique("dep"), "p", "endpoint")).name
    with pytest.raises(AlreadyExists):
        await aclient.create_deployment(name, "p", "endpoint")
