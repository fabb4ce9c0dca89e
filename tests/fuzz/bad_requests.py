"""Per-RPC strategies of malformed requests, and the rule that keeps fuzzing to its own data.

Each request starts valid and has up to two of its fields broken (Hypothesis
picks which): a broken name or id, an undefined enum number, a number or a
time out of range, an altered token, a broken filter, repeated names, an
oversized batch. The good values are what the proto allows: free text holds
any character (NUL included, which the server may refuse with INVALID_ARGUMENT),
a double any value (NaN and infinities too), so a request with nothing broken
must still get OK or a status its RPC documents. Requests name the fuzzer's own
resources (Targets) so the checks behind each lookup are reached too; SEEDS are
requests that once broke the server, sent on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from hypothesis import strategies as st

from tests.fuzz import strategies as s
from tracking.service.domain.names import DEPLOYMENT_NAME, EXECUTION_ID, LABEL_KEY, REQUEST_ID
from tracking.v1 import (
    auth_pb2,
    deployment_pb2,
    execution_pb2,
    io_pb2,
    status_pb2,
    subscription_pb2,
)
from tracking.v1 import tracking_service_pb2 as pb

OWN_PREFIX = "fuzz-"
ABSENT_PREFIX = "fuzz-absent-"
# Lines stored on an execution that is streamed stay short: a StreamLogs batch
# (up to 500 lines) must stay far below the 4 MiB message limit.
STREAMED_LINE = 200


@dataclass(frozen=True)
class Targets:
    """Resources the fuzzer created for itself, so requests can reach past the lookups."""

    deployments: tuple[str, ...]  # enabled: ENDPOINT ones, then a PERIODIC one
    disabled_deployment: str
    executions: tuple[str, ...]  # WAITING, RUNNING (with logs and outputs), ended
    sink_execution: str  # takes the huge log batches; its lines are never streamed or read
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    used_request_id: str
    page_tokens: tuple[str, ...]  # real tokens of ListDeployments / ListExecutions
    resume_tokens: tuple[str, ...]  # real resume tokens of WatchStatus
    token_ids: tuple[str, ...]
    subscription_ids: tuple[str, ...] = ()  # the fuzzer's own NATS subscription


RequestStrategy = Callable[[Targets], st.SearchStrategy[Message]]
Spec = Mapping[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]]


def _fields(draw: st.DrawFn, spec: Spec, most: int = 2) -> dict[str, Any]:
    """A value per field: good ones, except for up to `most` fields that get a bad one."""
    broken = draw(st.sets(st.sampled_from(sorted(spec)), max_size=most))
    return {name: draw(bad if name in broken else good) for name, (good, bad) in spec.items()}


# Names, ids and values.

NEW_NAMES = st.from_regex(r"fuzz-[a-z0-9]{1,20}", fullmatch=True)
TEXT = s.small_text(40)  # free text: any character


def _existing_deployments(t: Targets) -> st.SearchStrategy[str]:
    return st.sampled_from([*t.deployments, t.disabled_deployment])


def _deployment_names(t: Targets) -> st.SearchStrategy[str]:
    return st.one_of(_existing_deployments(t), s.absent_names())


def _execution_ids(t: Targets, sink: bool = False) -> st.SearchStrategy[str]:
    real = [*t.executions, *([t.sink_execution] if sink else [])]
    return st.one_of(st.sampled_from(real), st.sampled_from(real), s.absent_names())


def _enum(
    descriptor: Any, skip_zero: bool = False
) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    """(defined values, numbers the enum does not define)."""
    defined = sorted(n for n in descriptor.values_by_number if n or not skip_zero)
    undefined = s.enum_numbers(descriptor).filter(lambda n: n not in descriptor.values_by_number)
    bad = st.one_of(undefined, st.just(0)) if skip_zero else undefined
    return st.sampled_from(defined), bad


def _distinct_names(min_size: int = 0) -> st.SearchStrategy[list[str]]:
    return st.lists(
        st.one_of(st.sampled_from(["a", "b", "in-a", "out-a"]), TEXT).filter(bool),
        min_size=min_size,
        max_size=4,
        unique=True,
    )


def _clashing_names() -> st.SearchStrategy[list[str]]:
    """Names with a repeat or an empty one."""
    return st.lists(st.sampled_from(["a", "a", "", "b"]), min_size=1, max_size=5).filter(
        lambda names: "" in names or len(set(names)) < len(names)
    )


LABEL_KEYS = st.from_regex(r"[a-z0-9][a-z0-9_./-]{0,20}", fullmatch=True)
GOOD_LABELS = st.dictionaries(LABEL_KEYS, s.small_text(30), max_size=4)
BAD_LABELS = st.one_of(
    st.dictionaries(
        s.junk_names().filter(lambda k: not LABEL_KEY.fullmatch(k)), TEXT, min_size=1, max_size=3
    ),
    st.dictionaries(LABEL_KEYS, st.sampled_from(["v" * 256, "é" * 300]), min_size=1, max_size=2),
    st.integers(65, 70).map(lambda n: {f"k{i}": "v" for i in range(n)}),
)

GOOD_TIMES = st.builds(
    lambda seconds, nanos: (seconds, nanos),
    st.integers(s.TIMESTAMP_MIN, s.TIMESTAMP_MAX),
    st.integers(0, 999_999_999),
)
BAD_TIMES = (
    s.timestamps()
    .map(lambda ts: (ts.seconds, ts.nanos))
    .filter(
        lambda pair: (
            not (s.TIMESTAMP_MIN <= pair[0] <= s.TIMESTAMP_MAX and 0 <= pair[1] <= 999_999_999)
        )
    )
)
UNSET = st.just(None)


def _set_time(holder: Message, name: str, value: tuple[int, int] | None) -> None:
    if value is not None:
        stamp = getattr(holder, name)
        stamp.seconds, stamp.nanos = value


# A JSON value (NaN and infinities included: a double may hold them), or a nesting depth.
GOOD_VALUES = st.one_of(
    st.none(),
    st.tuples(st.just("json"), s.json_values),
    st.tuples(st.just("deep"), st.integers(1, 40)),
)
BAD_VALUES = st.tuples(st.just("deep"), s.NEST_DEPTHS.filter(lambda d: d > 40))


def _set_value(holder: Message, value: tuple[str, Any] | None) -> None:
    if value is None:
        return
    kind, data = value
    if kind == "json":
        s.fill_value(holder.value, data)  # type: ignore[attr-defined]
    else:
        s.nest_value(holder.value, data)  # type: ignore[attr-defined]


def _fill_labels(container: Any, labels: dict[str, str]) -> None:
    for key, value in labels.items():
        container[key] = value


# Deployments

VALID_CRONS = (
    "0 3 * * *",
    "*/5 * * * *",
    "0 0 30 2 *",  # parses, never fires
    "0 0 31 4 *",
    "0 0 L * *",
    "0 0 1W * *",
    "0 0 * * 5#3",
    "0 0 1-31/400 * *",
    "1,2,3 * * * *",
    "0\t3 * * *",
    "  0 3 * * *  ",
    "0" + " " * 300 + "3 * * *",
)
BAD_CRONS = (
    "",
    "* * * * * *",
    "60 * * * *",
    "0 24 * * *",
    "0 0 0 * *",
    "*/0 * * * *",
    "H * * * *",
    "@hourly",
    "0 3 * * * # comment",
)
PERIODIC = deployment_pb2.EXECUTION_RULE_PERIODIC
ENDPOINT = deployment_pb2.EXECUTION_RULE_ENDPOINT

GOOD_RULES = st.one_of(
    st.tuples(st.just(ENDPOINT), st.just("")),
    st.tuples(st.just(PERIODIC), st.sampled_from(VALID_CRONS)),
)
BAD_RULES = st.one_of(
    st.tuples(
        s.enum_numbers(deployment_pb2.ExecutionRule.DESCRIPTOR).filter(lambda n: n not in (1, 2)),
        st.sampled_from((*VALID_CRONS, "")),
    ),
    st.tuples(st.just(ENDPOINT), st.sampled_from(VALID_CRONS)),
    st.tuples(st.just(PERIODIC), st.one_of(st.sampled_from(BAD_CRONS), TEXT, s.long_strings())),
)


def _deployment_spec(
    name: st.SearchStrategy[str],
) -> dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]]:
    return {
        "name": (name, s.junk_names()),
        "pipeline_name": (
            st.one_of(st.just("pipe"), TEXT.filter(bool)),
            st.one_of(st.just(""), s.long_strings().filter(lambda x: len(x) > 256)),
        ),
        "rule": (GOOD_RULES, BAD_RULES),
        "mode": _enum(deployment_pb2.DeploymentMode.DESCRIPTOR),
        "status": _enum(deployment_pb2.DeploymentStatus.DESCRIPTOR),
        "description": (TEXT, st.sampled_from(["d" * 4097, "é" * 5000])),
        "labels": (GOOD_LABELS, BAD_LABELS),
        "inputs": (
            st.tuples(_distinct_names(), _enum(io_pb2.InputSource.DESCRIPTOR)[0]),
            st.tuples(
                st.one_of(_clashing_names(), _distinct_names(1)),
                _enum(io_pb2.InputSource.DESCRIPTOR)[1],
            ),
        ),
        "outputs": (
            st.tuples(_distinct_names(), _enum(io_pb2.OutputDestination.DESCRIPTOR)[0]),
            st.tuples(
                st.one_of(_clashing_names(), _distinct_names(1)),
                _enum(io_pb2.OutputDestination.DESCRIPTOR)[1],
            ),
        ),
        "pods": (
            st.lists(st.tuples(TEXT, TEXT), max_size=3),
            st.lists(st.tuples(TEXT, TEXT), max_size=3),
        ),
        "endpoint_token": (TEXT, TEXT),
        "is_enabled": (st.booleans(), st.booleans()),
        "output_only": (
            st.one_of(UNSET, st.tuples(TEXT, s.junk_names())),
            st.tuples(TEXT, s.junk_names()),
        ),
    }


def _fill_deployment(deployment: deployment_pb2.Deployment, values: dict[str, Any]) -> None:
    deployment.name = values["name"]
    deployment.pipeline_name = values["pipeline_name"]
    deployment.execution_rule, deployment.schedule = values["rule"]
    deployment.mode = values["mode"]
    deployment.status = values["status"]
    deployment.description = values["description"]
    _fill_labels(deployment.labels, values["labels"])
    names, source = values["inputs"]
    for name in names:
        deployment.inputs_mapping.add(pipeline_input_name=name, source=source)
    names, destination = values["outputs"]
    for name in names:
        deployment.outputs_mapping.add(pipeline_output_name=name, destination=destination)
    for pod_id, status in values["pods"]:
        deployment.pods.add(pod_id=pod_id, status=status)
    deployment.endpoint_token = values["endpoint_token"]
    deployment.is_enabled = values["is_enabled"]
    if values["output_only"] is not None:  # ignored by the server
        deployment.created_by, deployment.last_execution_id = values["output_only"]


@st.composite
def _create_deployment(draw: st.DrawFn, t: Targets) -> Message:
    request = pb.CreateDeploymentRequest()
    name = st.one_of(NEW_NAMES, _existing_deployments(t))
    _fill_deployment(request.deployment, _fields(draw, _deployment_spec(name)))
    return request


def create_deployment(t: Targets) -> st.SearchStrategy[Message]:
    return _create_deployment(t)


def get_deployment(t: Targets) -> st.SearchStrategy[Message]:
    return st.builds(pb.GetDeploymentRequest, name=st.one_of(_deployment_names(t), s.junk_names()))


DEPLOYMENT_FILTERS: dict[str, st.SearchStrategy[str]] = {
    "pipeline_name": s.quoted(TEXT),
    "execution_rule": st.sampled_from(["ENDPOINT", "PERIODIC", "periodic"]),
    "mode": st.sampled_from(["ELASTIC", "LOW_LATENCY"]),
    "status": st.sampled_from(["PENDING", "UP", "FAILED", "STANDBY"]),
    "is_enabled": st.sampled_from(["true", "false", "TRUE"]),
}
EXECUTION_FILTERS: dict[str, st.SearchStrategy[str]] = {
    "deployment_name": s.quoted(TEXT),
    "pipeline_name": s.quoted(TEXT),
    "experiment_name": s.quoted(TEXT),
    "model_run_id": s.quoted(TEXT),
    "status": st.sampled_from(["RUNNING", "WAITING", "SUCCESS", "CANCEL_REQUESTED"]),
    "job_type": st.sampled_from(["TRAIN", "INFERENCE", "TRAIN_INFERENCE", "UNSPECIFIED"]),
}


def _list_spec(t: Targets, fields: dict[str, st.SearchStrategy[str]], times: bool) -> Spec:
    return {
        "page_size": (st.integers(0, 1500), st.integers(s.INT32_MIN, -1)),
        "page_token": (
            st.one_of(st.just(""), st.sampled_from(t.page_tokens)),
            s.altered_tokens(t.page_tokens),
        ),
        "filter": (
            st.one_of(st.just(""), s.good_filters(fields, times)),
            s.filters(sorted(fields), ["RUNNING", "ENDPOINT", "true"]),
        ),
    }


@st.composite
def _list(draw: st.DrawFn, cls: type[Message], spec: Spec) -> Message:
    return cls(**_fields(draw, spec))


def list_deployments(t: Targets) -> st.SearchStrategy[Message]:
    return _list(pb.ListDeploymentsRequest, _list_spec(t, DEPLOYMENT_FILTERS, times=False))


MUTABLE_PATHS = (
    "pipeline_name",
    "description",
    "mode",
    "schedule",
    "inputs_mapping",
    "outputs_mapping",
    "status",
    "is_enabled",
    "pods",
    "labels",
    "endpoint_token",
)
REFUSED_PATHS = (
    "name",
    "execution_rule",
    "create_time",
    "created_by",
    "human_readable_schedule",
    "next_run_time",
    "last_execution_id",
    "labels.team",
    "deployment.name",
    "*",
    "",
    " ",
    "Pipeline_Name",
)


@st.composite
def _update_deployment(draw: st.DrawFn, t: Targets) -> Message:
    spec = dict(_deployment_spec(_deployment_names(t)))
    spec["mask"] = (
        st.lists(st.sampled_from(MUTABLE_PATHS), min_size=1, max_size=4),
        st.one_of(
            st.just([]),
            st.lists(st.one_of(st.sampled_from(REFUSED_PATHS), TEXT), min_size=1, max_size=3),
        ),
    )
    values = _fields(draw, spec)
    request = pb.UpdateDeploymentRequest()
    _fill_deployment(request.deployment, values)
    request.update_mask.paths.extend(values["mask"])
    return request


def update_deployment(t: Targets) -> st.SearchStrategy[Message]:
    return _update_deployment(t)


def delete_deployment(t: Targets) -> st.SearchStrategy[Message]:
    return st.builds(pb.DeleteDeploymentRequest, name=st.one_of(s.absent_names(), s.junk_names()))


# Executions


def _items(
    names: st.SearchStrategy[list[str]],
    enum: st.SearchStrategy[Any],
    values: st.SearchStrategy[Any],
) -> st.SearchStrategy[list[tuple[str, Any, Any]]]:
    return names.flatmap(
        lambda chosen: st.tuples(*[st.tuples(st.just(n), enum, values) for n in chosen]).map(list)
    )


def _io_spec(enum: Any) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    good_enum, bad_enum = _enum(enum)
    return (
        _items(_distinct_names(), good_enum, GOOD_VALUES),
        st.one_of(
            _items(_clashing_names(), good_enum, GOOD_VALUES),
            _items(_distinct_names(1), bad_enum, GOOD_VALUES),
            _items(_distinct_names(1), good_enum, BAD_VALUES),
        ),
    )


GOOD_STEPS = _distinct_names().flatmap(
    lambda names: st.tuples(
        *[
            st.tuples(
                st.just(n),
                _enum(status_pb2.RunningStatus.DESCRIPTOR)[0],
                _enum(execution_pb2.StepOrigin.DESCRIPTOR)[0],
                st.one_of(UNSET, GOOD_TIMES),
            )
            for n in names
        ]
    ).map(list)
)
BAD_STEPS = st.one_of(
    _clashing_names().map(lambda names: [(n, 0, 0, None) for n in names]),
    st.lists(
        st.tuples(
            st.just("s"), _enum(status_pb2.RunningStatus.DESCRIPTOR)[1], st.just(0), st.just(None)
        ),
        min_size=1,
        max_size=1,
    ),
    st.lists(st.tuples(st.just("s"), st.just(0), st.just(0), BAD_TIMES), min_size=1, max_size=1),
)


@st.composite
def _create_execution(draw: st.DrawFn, t: Targets) -> Message:
    valid_id = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", fullmatch=True)
    values = _fields(
        draw,
        {
            "execution_id": (
                st.one_of(st.just(""), NEW_NAMES, valid_id, st.sampled_from(t.executions)),
                s.junk_names().filter(lambda x: not EXECUTION_ID.fullmatch(x)),
            ),
            "deployment_name": (
                st.one_of(st.just(""), _deployment_names(t)),
                s.junk_names().filter(lambda x: bool(x) and not DEPLOYMENT_NAME.fullmatch(x)),
            ),
            "pipeline_name": (TEXT, s.long_strings().filter(lambda x: len(x) > 256)),
            "job_name": (TEXT, s.long_strings().filter(lambda x: len(x) > 256)),
            "job_type": _enum(execution_pb2.JobType.DESCRIPTOR),
            "experiment_name": (TEXT, s.long_strings().filter(lambda x: len(x) > 256)),
            "labels": (GOOD_LABELS, BAD_LABELS),
            "inputs": _io_spec(io_pb2.InputSource.DESCRIPTOR),
            "steps": (GOOD_STEPS, BAD_STEPS),
            "request_id": (
                st.one_of(st.just(""), NEW_NAMES, st.just(t.used_request_id)),
                s.junk_names().filter(lambda x: bool(x) and not REQUEST_ID.fullmatch(x)),
            ),
        },
    )
    # Filled in place: copying a message (as a constructor does) re-parses it, and the
    # deeply nested values must reach the server as they are.
    request = pb.CreateExecutionRequest(request_id=values["request_id"])
    execution = request.execution
    execution.SetInParent()
    for name in (
        "execution_id",
        "deployment_name",
        "pipeline_name",
        "job_name",
        "job_type",
        "experiment_name",
    ):
        setattr(execution, name, values[name])
    _fill_labels(execution.labels, values["labels"])
    for name, source, value in values["inputs"]:
        item = execution.inputs.add(name=name, source=source)
        _set_value(item, value)
    for name, status, origin, start in values["steps"]:
        step = execution.steps.add(name=name, status=status, origin=origin)
        _set_time(step, "start_time", start)
    if draw(st.booleans()):
        execution.heartbeat_timeout.CopyFrom(draw(s.durations()))
        execution.command.extend(draw(st.lists(TEXT, max_size=3)))
    if draw(st.booleans()):  # output-only: ignored
        execution.job_status.status = draw(s.enum_numbers(status_pb2.RunningStatus.DESCRIPTOR))
        execution.job_status.progress = draw(s.doubles())
        execution.created_by = draw(TEXT)
    return request


def create_execution(t: Targets) -> st.SearchStrategy[Message]:
    return _create_execution(t)


def get_execution(t: Targets) -> st.SearchStrategy[Message]:
    return st.builds(
        pb.GetExecutionRequest, execution_id=st.one_of(_execution_ids(t, sink=True), s.junk_names())
    )


def list_executions(t: Targets) -> st.SearchStrategy[Message]:
    return _list(pb.ListExecutionsRequest, _list_spec(t, EXECUTION_FILTERS, times=True))


def delete_execution(t: Targets) -> st.SearchStrategy[Message]:
    return st.builds(
        pb.DeleteExecutionRequest, execution_id=st.one_of(s.absent_names(), s.junk_names())
    )


def _named_item(
    cls: type[Message], field: str, names: tuple[str, ...]
) -> Callable[[Targets], st.SearchStrategy[Message]]:
    def strategy(t: Targets) -> st.SearchStrategy[Message]:
        @st.composite
        def build(draw: st.DrawFn) -> Message:
            values = _fields(
                draw,
                {
                    "execution_id": (_execution_ids(t), s.junk_names()),
                    field: (st.one_of(st.sampled_from(names), TEXT.filter(bool)), st.just("")),
                },
            )
            return cls(**values)

        return build()

    return strategy


get_execution_input = _named_item(pb.GetExecutionInputRequest, "input_name", ("in-a", "in-b"))
get_execution_output = _named_item(pb.GetExecutionOutputRequest, "output_name", ("out-a",))


def get_job_status(t: Targets) -> st.SearchStrategy[Message]:
    return st.builds(
        pb.GetJobStatusRequest, execution_id=st.one_of(_execution_ids(t, sink=True), s.junk_names())
    )


LEGAL_CAUSES = (
    status_pb2.RUNNING_STATUS_SUCCESS,
    status_pb2.RUNNING_STATUS_ERROR,
    status_pb2.RUNNING_STATUS_CANCELED,
    status_pb2.RUNNING_STATUS_UNKNOWN,
)


# A TimesAction: each time absent or any Timestamp / Duration, in or out of order.
_TIMES = st.tuples(
    st.one_of(st.none(), s.timestamps()),
    st.one_of(st.none(), s.timestamps()),
    st.one_of(st.none(), s.durations()),
)


@st.composite
def _update_job_status(draw: st.DrawFn, t: Targets) -> Message:
    good_action = st.one_of(
        st.tuples(st.just("start"), TEXT),
        st.tuples(st.just("progress"), st.tuples(st.floats(0, 1), TEXT)),
        st.tuples(st.just("suspend"), TEXT),
        st.tuples(st.just("resume"), st.none()),
        st.tuples(st.just("heartbeat"), st.none()),
        st.tuples(st.just("stop"), st.tuples(st.sampled_from(LEGAL_CAUSES), TEXT)),
        st.tuples(st.just("times"), _TIMES),
    )
    bad_action = st.one_of(
        st.tuples(st.just("none"), st.none()),
        st.tuples(st.just("times"), _TIMES),
        st.tuples(st.just("lease"), s.durations()),
        st.tuples(
            st.just("progress"), st.tuples(s.doubles().filter(lambda p: not 0 <= p <= 1), TEXT)
        ),
        st.tuples(
            st.just("stop"),
            st.tuples(
                s.enum_numbers(status_pb2.RunningStatus.DESCRIPTOR).filter(
                    lambda c: c not in LEGAL_CAUSES
                ),
                TEXT,
            ),
        ),
    )
    values = _fields(
        draw,
        {
            "execution_id": (_execution_ids(t), s.junk_names()),
            "action": (good_action, bad_action),
            "expected_revision": (
                st.one_of(UNSET, st.integers(0, 30)),
                st.one_of(st.integers(s.INT64_MIN, -1), st.just(s.INT64_MAX)),
            ),
        },
    )
    request = pb.UpdateJobStatusRequest(execution_id=values["execution_id"])
    kind, payload = values["action"]
    if kind == "start":
        request.start.phase = payload
    elif kind == "progress":
        request.progress.progress, request.progress.phase = payload
    elif kind == "suspend":
        request.suspend.reason = payload
    elif kind == "resume":
        request.resume.SetInParent()
    elif kind == "heartbeat":
        request.heartbeat.SetInParent()
    elif kind == "lease":
        request.start.heartbeat_timeout.CopyFrom(payload)
    elif kind == "stop":
        request.stop.cause, request.stop.message = payload
    elif kind == "times":
        request.times.SetInParent()
        for name, value in zip(("create_time", "start_time", "duration"), payload, strict=True):
            if value is not None:
                getattr(request.times, name).CopyFrom(value)
    if values["expected_revision"] is not None:
        request.expected_revision = values["expected_revision"]
    return request


def update_job_status(t: Targets) -> st.SearchStrategy[Message]:
    return _update_job_status(t)


def cancel_execution(t: Targets) -> st.SearchStrategy[Message]:
    return st.builds(
        pb.CancelExecutionRequest,
        execution_id=st.one_of(_execution_ids(t), s.junk_names()),
        reason=TEXT,
    )


@st.composite
def _set_outputs(draw: st.DrawFn, t: Targets) -> Message:
    values = _fields(
        draw,
        {
            "execution_id": (_execution_ids(t), s.junk_names()),
            "outputs": _io_spec(io_pb2.OutputDestination.DESCRIPTOR),
            "many": (st.just(0), st.sampled_from([5000, 20000])),
            "result": (
                st.one_of(
                    UNSET,
                    st.tuples(st.just("json"), st.dictionaries(TEXT, s.json_values, max_size=4)),
                    st.tuples(st.just("deep"), st.integers(1, 40)),
                ),
                BAD_VALUES,
            ),
            "export_paths": (
                st.dictionaries(TEXT, TEXT, max_size=3),
                st.dictionaries(TEXT, TEXT, max_size=3),
            ),
            "source_views": (
                st.dictionaries(TEXT, TEXT, max_size=3),
                st.dictionaries(TEXT, TEXT, max_size=3),
            ),
        },
    )
    request = pb.SetExecutionOutputsRequest(execution_id=values["execution_id"])
    for name, destination, value in values["outputs"]:
        output = request.outputs.add(name=name, destination=destination)
        _set_value(output, value)
    for index in range(values["many"]):  # a huge batch, its names repeated
        request.outputs.add(name=f"out-{index % 4000}")
    if values["result"] is not None:
        kind, data = values["result"]
        if kind == "json":
            s.fill_struct(request.result, data)
        else:
            s.nest_value(request.result.fields["deep"], data)
    _fill_labels(request.export_paths, values["export_paths"])
    _fill_labels(request.source_views, values["source_views"])
    return request


def set_execution_outputs(t: Targets) -> st.SearchStrategy[Message]:
    return _set_outputs(t)


@st.composite
def _update_step(draw: st.DrawFn, t: Targets) -> Message:
    status_good, status_bad = _enum(status_pb2.RunningStatus.DESCRIPTOR)
    origin_good, origin_bad = _enum(execution_pb2.StepOrigin.DESCRIPTOR)
    values = _fields(
        draw,
        {
            "execution_id": (_execution_ids(t), s.junk_names()),
            "name": (st.one_of(st.sampled_from(["fit", "eval"]), TEXT.filter(bool)), st.just("")),
            "status": (status_good, status_bad),
            "origin": (origin_good, origin_bad),
            "start_time": (st.one_of(UNSET, GOOD_TIMES), BAD_TIMES),
            "end_time": (st.one_of(UNSET, GOOD_TIMES), BAD_TIMES),
            "commit_id": (TEXT, TEXT),
            "missing": (st.just(False), st.just(True)),
        },
    )
    request = pb.UpdateStepRequest(execution_id=values["execution_id"])
    if not values["missing"]:
        step = request.step
        step.name, step.status, step.origin = values["name"], values["status"], values["origin"]
        step.commit_id = values["commit_id"]
        _set_time(step, "start_time", values["start_time"])
        _set_time(step, "end_time", values["end_time"])
    return request


def update_step(t: Targets) -> st.SearchStrategy[Message]:
    return _update_step(t)


GOOD_LINES = st.lists(
    st.tuples(
        s.small_text(STREAMED_LINE),
        _enum(execution_pb2.LogStream.DESCRIPTOR)[0],
        TEXT,
        st.one_of(UNSET, GOOD_TIMES),
    ),
    min_size=1,
    max_size=5,
)
BAD_LINES = st.one_of(
    st.just([]),
    st.sampled_from([5001, 6000]).map(lambda n: [("m", 0, "", None)] * n),
    st.sampled_from([65537, 100_000]).map(lambda n: [("m", 0, "", None), ("y" * n, 0, "", None)]),
    st.lists(
        st.tuples(st.just("m"), _enum(execution_pb2.LogStream.DESCRIPTOR)[1], st.just(""), UNSET),
        min_size=1,
        max_size=2,
    ),
    st.lists(st.tuples(st.just("m"), st.just(0), st.just(""), BAD_TIMES), min_size=1, max_size=2),
)


@st.composite
def _append_logs(draw: st.DrawFn, t: Targets) -> Message:
    if draw(st.integers(0, 9)) == 0:
        # Just under the 4 MiB request limit, every line within the limits: accepted.
        # Only the sink (never streamed, never read back) takes these.
        count = draw(st.integers(1, 60))
        request = pb.AppendLogsRequest(execution_id=t.sink_execution)
        line = "x" * 65536
        for _ in range(count):
            request.entries.add(message=line)
        return request
    values = _fields(
        draw,
        {"execution_id": (_execution_ids(t), s.junk_names()), "entries": (GOOD_LINES, BAD_LINES)},
    )
    request = pb.AppendLogsRequest(execution_id=values["execution_id"])
    for message, stream, step_name, timestamp in values["entries"]:
        entry = request.entries.add(message=message, stream=stream, step_name=step_name)
        entry.seq = draw(s.int64s())  # ignored by the server
        _set_time(entry, "timestamp", timestamp)
    return request


def append_logs(t: Targets) -> st.SearchStrategy[Message]:
    return _append_logs(t)


# Log patterns: RE2 syntax, at most 1024 characters; catastrophic for a backtracking engine
# is fine here.
GOOD_PATTERNS = st.one_of(
    st.just(""), st.sampled_from(["^line", r"\d+", "(a+)+$", "(?i)error|warn", "x" * 1024])
)
BAD_PATTERNS = st.one_of(
    st.sampled_from(["(", "[z-a]", r"(a)\1", "a{2000}", "(?<=x)y", "x" * 1025]),
    st.text(min_size=1025, max_size=1100),
)


@st.composite
def _get_logs(draw: st.DrawFn, t: Targets) -> Message:
    stream_good, stream_bad = _enum(execution_pb2.LogStream.DESCRIPTOR)
    values = _fields(
        draw,
        {
            "execution_id": (_execution_ids(t), s.junk_names()),
            "from_time": (st.one_of(UNSET, GOOD_TIMES), BAD_TIMES),
            "to_time": (st.one_of(UNSET, GOOD_TIMES), BAD_TIMES),
            "limit": (st.integers(0, 20000), st.integers(s.INT32_MIN, -1)),
            "stream": (stream_good, stream_bad),
            "after_seq": (st.integers(0, 100), st.integers(s.INT64_MIN, -1)),
            "contains": (TEXT, TEXT),
            "pattern": (GOOD_PATTERNS, BAD_PATTERNS),
        },
    )
    request = pb.GetExecutionLogsRequest(
        execution_id=values["execution_id"],
        limit=values["limit"],
        stream=values["stream"],
        after_seq=values["after_seq"],
        contains=values["contains"],
        pattern=values["pattern"],
    )
    _set_time(request, "from_time", values["from_time"])
    _set_time(request, "to_time", values["to_time"])
    return request


def get_execution_logs(t: Targets) -> st.SearchStrategy[Message]:
    return _get_logs(t)


@st.composite
def _watch_status(draw: st.DrawFn, t: Targets) -> Message:
    scope = draw(st.sampled_from(["execution", "deployment", "all"]))
    values = _fields(
        draw,
        {
            "execution_id": (_execution_ids(t), s.junk_names().filter(bool)),
            "deployment_name": (_deployment_names(t), s.junk_names().filter(bool)),
            "after_revision": (
                st.one_of(st.just(0), st.integers(0, 10)),
                st.one_of(st.integers(s.INT64_MIN, -1), st.just(s.INT64_MAX)),
            ),
            "resume_token": (
                st.one_of(st.just(""), st.sampled_from(t.resume_tokens)),
                s.altered_tokens(t.resume_tokens + t.page_tokens).filter(bool),
            ),
            "mixed": (st.just(False), st.just(True)),  # fields of two scopes at once
        },
    )
    request = pb.WatchStatusRequest()
    if scope == "execution" or values["mixed"]:
        request.execution_id = values["execution_id"]
        request.after_revision = values["after_revision"]
    if scope == "deployment" or (values["mixed"] and scope != "execution"):
        request.deployment_name = values["deployment_name"]
    if scope != "execution" or values["mixed"]:
        request.resume_token = values["resume_token"]
    return request


def watch_status(t: Targets) -> st.SearchStrategy[Message]:
    return _watch_status(t)


@st.composite
def _stream_logs(draw: st.DrawFn, t: Targets) -> Message:
    stream_good, stream_bad = _enum(execution_pb2.LogStream.DESCRIPTOR)
    values = _fields(
        draw,
        {
            "execution_id": (_execution_ids(t), s.junk_names()),
            "after_seq": (
                st.integers(0, 5),
                st.one_of(st.integers(s.INT64_MIN, -1), st.integers(1000, s.INT64_MAX)),
            ),
            "since": (st.one_of(UNSET, GOOD_TIMES), BAD_TIMES),
            "tail": (
                st.integers(0, 100000),
                st.one_of(st.integers(s.INT32_MIN, -1), st.integers(100001, s.INT32_MAX)),
            ),
            "stream": (stream_good, stream_bad),
            "follow": (st.booleans(), st.booleans()),
            "deployment_name": (_deployment_names(t), s.junk_names().filter(bool)),
            "resume_token": (
                st.just(""),
                s.altered_tokens(t.resume_tokens + t.page_tokens).filter(bool),
            ),
            "contains": (TEXT, TEXT),
            "pattern": (GOOD_PATTERNS, BAD_PATTERNS),
            "mixed": (st.just(False), st.just(True)),  # fields of both scopes at once
        },
    )
    whole_deployment = draw(st.booleans())
    request = pb.StreamLogsRequest(
        tail=values["tail"],
        stream=values["stream"],
        follow=values["follow"],
        contains=values["contains"],
        pattern=values["pattern"],
    )
    if not whole_deployment or values["mixed"]:
        request.execution_id = values["execution_id"]
        request.after_seq = values["after_seq"]
    if whole_deployment or values["mixed"]:
        request.deployment_name = values["deployment_name"]
        request.resume_token = values["resume_token"]
    _set_time(request, "since", values["since"])
    return request


def stream_logs(t: Targets) -> st.SearchStrategy[Message]:
    return _stream_logs(t)


METRIC_NAMES = st.one_of(st.sampled_from(["loss", "acc", "val/loss"]), s.small_text(40))
BAD_METRIC_NAMES = st.one_of(
    st.just(""),
    st.just("x" * 201),
    st.sampled_from(["a\nb", " lead", "trail ", "zero\u200bwidth", "tab\t"]),
)
GOOD_POINTS = st.lists(
    st.tuples(
        st.sampled_from(["loss", "acc"]),
        s.doubles(),
        st.one_of(UNSET, st.integers(0, s.INT64_MAX)),
        st.one_of(UNSET, GOOD_TIMES),
    ),
    min_size=1,
    max_size=5,
)
BAD_POINTS: st.SearchStrategy[list[tuple[str, float, int | None, Any]]] = st.one_of(
    st.just([]),
    st.sampled_from([1001, 1500]).map(lambda n: [("loss", 1.0, None, None)] * n),
    st.lists(st.tuples(BAD_METRIC_NAMES, s.doubles(), UNSET, UNSET), min_size=1, max_size=2),
    st.lists(
        st.tuples(st.just("loss"), s.doubles(), st.integers(s.INT64_MIN, -1), UNSET),
        min_size=1,
        max_size=2,
    ),
    st.lists(st.tuples(st.just("loss"), s.doubles(), UNSET, BAD_TIMES), min_size=1, max_size=2),
)


@st.composite
def _log_metrics(draw: st.DrawFn, t: Targets) -> Message:
    values = _fields(
        draw,
        {"execution_id": (_execution_ids(t), s.junk_names()), "points": (GOOD_POINTS, BAD_POINTS)},
    )
    request = pb.LogMetricsRequest(execution_id=values["execution_id"])
    for name, value, step, time in values["points"]:
        point = request.points.add(name=name, value=value)
        point.seq = draw(s.int64s())  # ignored by the server
        if step is not None:
            point.step = step
        _set_time(point, "time", time)
    return request


def log_metrics(t: Targets) -> st.SearchStrategy[Message]:
    return _log_metrics(t)


def list_metrics(t: Targets) -> st.SearchStrategy[Message]:
    return st.builds(
        pb.ListMetricsRequest, execution_id=st.one_of(_execution_ids(t), s.junk_names())
    )


@st.composite
def _metric_history(draw: st.DrawFn, t: Targets) -> Message:
    values = _fields(
        draw,
        {
            "execution_ids": (
                st.lists(_execution_ids(t), min_size=1, max_size=3, unique=True),
                st.one_of(
                    st.just([]),
                    st.lists(s.junk_names(), min_size=1, max_size=2),
                    st.lists(_execution_ids(t), min_size=11, max_size=12),
                ),
            ),
            "name": (METRIC_NAMES, BAD_METRIC_NAMES),
            "max_points": (
                st.integers(1, 5000),
                st.one_of(st.integers(s.INT32_MIN, 0), st.integers(10_001, s.INT32_MAX)),
            ),
            "start_step": (st.one_of(UNSET, st.integers(0, 100)), st.integers(s.INT64_MIN, -1)),
            "end_step": (st.one_of(UNSET, st.integers(100, s.INT64_MAX)), s.int64s()),
            "exact": (st.booleans(), st.booleans()),
            "page_token": (
                st.just(""),
                s.altered_tokens(t.resume_tokens + t.page_tokens).filter(bool),
            ),
        },
    )
    request = pb.GetMetricHistoryRequest(
        execution_ids=values["execution_ids"],
        name=values["name"],
        max_points=values["max_points"],
        exact=values["exact"],
        page_token=values["page_token"],
    )
    if values["start_step"] is not None:
        request.start_step = values["start_step"]
    if values["end_step"] is not None:
        request.end_step = values["end_step"]
    return request


def get_metric_history(t: Targets) -> st.SearchStrategy[Message]:
    return _metric_history(t)


@st.composite
def _stream_metrics(draw: st.DrawFn, t: Targets) -> Message:
    values = _fields(
        draw,
        {
            "execution_id": (_execution_ids(t), s.junk_names()),
            "after_seq": (
                st.integers(0, 5),
                st.one_of(st.integers(s.INT64_MIN, -1), st.integers(1000, s.INT64_MAX)),
            ),
            "names": (st.lists(METRIC_NAMES, max_size=3), st.lists(BAD_METRIC_NAMES, min_size=1)),
        },
    )
    # Never follow: a stream of a running execution would wait for its end.
    return pb.StreamMetricsRequest(
        execution_id=values["execution_id"], after_seq=values["after_seq"], names=values["names"]
    )


def stream_metrics(t: Targets) -> st.SearchStrategy[Message]:
    return _stream_metrics(t)


def get_service_info(t: Targets) -> st.SearchStrategy[Message]:
    return st.just(pb.GetServiceInfoRequest())


# Subscriptions. Webhook URLs name addresses the server refuses by default (loopback,
# private, documentation ranges) or hosts that cannot resolve, so nothing is ever sent
# outside; NATS subjects live under FUZZ_SUBJECT, and what is created is deleted after.

FUZZ_SUBJECT = "tracking-fuzz"
SUBSCRIPTION_IDS = st.from_regex(r"sub_[0-9a-f]{12}", fullmatch=True)
GOOD_URLS = st.sampled_from(
    [
        "http://127.0.0.1:9/hook",
        "https://10.1.2.3/hook",
        "http://192.0.2.7:8080/x?y=1",
        "http://[::1]/hook",
        "http://169.254.169.254/latest",
        "http://fuzz.invalid/hook",
    ]
)
BAD_URLS = st.one_of(
    st.sampled_from(
        [
            "",
            "ftp://127.0.0.1/x",
            "http://user:pw@127.0.0.1/x",
            "http://",
            "http://127.0.0.1:99999/x",
            "http://a b/x",
            "javascript:alert(1)",
            "http://[::1/x",
        ]
    ),
    st.integers(2049, 5000).map(lambda n: "http://127.0.0.1/" + "a" * n),
    s.small_text(40),
)
GOOD_SUBJECTS = st.one_of(
    st.just(FUZZ_SUBJECT),
    st.from_regex(r"tracking-fuzz\.[a-z0-9_-]{1,10}", fullmatch=True),
)
BAD_SUBJECTS = st.one_of(
    st.sampled_from(["a..b", "a.*", "a.>", " a", "a b", ".a", "a.", "é"]),
    st.integers(129, 400).map(lambda n: "a" * n),
    s.small_text(40).filter(bool),
)


@st.composite
def _create_subscription(draw: st.DrawFn, t: Targets) -> Message:
    kind_good, kind_bad = _enum(subscription_pb2.EventKind.DESCRIPTOR, skip_zero=True)
    status_good, status_bad = _enum(status_pb2.RunningStatus.DESCRIPTOR, skip_zero=True)
    values = _fields(
        draw,
        {
            "name": (
                st.one_of(st.just("fuzz-sub"), TEXT.filter(str.strip)),
                st.one_of(st.sampled_from(["", " ", "\t"]), st.just("n" * 129)),
            ),
            "target": (
                st.one_of(
                    st.tuples(st.just("webhook"), GOOD_URLS),
                    st.tuples(st.just("nats"), GOOD_SUBJECTS),
                ),
                st.one_of(
                    st.just(("none", "")),
                    st.tuples(st.just("webhook"), BAD_URLS),
                    st.tuples(st.just("nats"), BAD_SUBJECTS),
                ),
            ),
            "deployments": (
                st.lists(st.sampled_from(t.deployments), max_size=2),
                st.one_of(
                    st.lists(s.junk_names(), min_size=1, max_size=2),
                    st.just([f"{ABSENT_PREFIX}nowhere"]),
                ),
            ),
            "kinds": (st.lists(kind_good, max_size=3), st.lists(kind_bad, min_size=1, max_size=2)),
            "statuses": (
                st.lists(status_good, max_size=3),
                st.lists(status_bad, min_size=1, max_size=2),
            ),
            "request_id": (
                st.one_of(st.just(""), st.from_regex(REQUEST_ID.pattern, fullmatch=True)),
                s.junk_names().filter(lambda v: not REQUEST_ID.fullmatch(v)),
            ),
        },
    )
    subscription = subscription_pb2.Subscription(
        name=values["name"],
        filter=subscription_pb2.SubscriptionFilter(
            deployment_names=values["deployments"],
            kinds=values["kinds"],
            statuses=values["statuses"],
        ),
    )
    target, address = values["target"]
    if target == "webhook":
        subscription.webhook.url = address
    elif target == "nats":
        subscription.nats.subject = address
    # Output-only fields, which the server ignores.
    subscription.subscription_id = draw(st.one_of(st.just(""), s.junk_names()))
    subscription.delivered_position = draw(s.int64s())
    return pb.CreateSubscriptionRequest(subscription=subscription, request_id=values["request_id"])


def create_subscription(t: Targets) -> st.SearchStrategy[Message]:
    return _create_subscription(t)


def _subscription_ids(t: Targets) -> st.SearchStrategy[str]:
    own = [st.sampled_from(t.subscription_ids)] if t.subscription_ids else []
    return st.one_of(*own, SUBSCRIPTION_IDS, s.junk_names())


def _by_subscription_id(cls: type[Message]) -> RequestStrategy:
    def strategy(t: Targets) -> st.SearchStrategy[Message]:
        return st.builds(cls, subscription_id=_subscription_ids(t))

    return strategy


def list_subscriptions(t: Targets) -> st.SearchStrategy[Message]:
    return st.just(pb.ListSubscriptionsRequest())


def list_deliveries(t: Targets) -> st.SearchStrategy[Message]:
    return st.builds(
        pb.ListDeliveriesRequest,
        subscription_id=_subscription_ids(t),
        page_size=st.one_of(st.integers(0, 1000), s.boundary_ints(s.INT32_MIN, s.INT32_MAX)),
    )


# Tokens


@st.composite
def _create_token(draw: st.DrawFn, t: Targets) -> Message:
    role_good, role_bad = _enum(auth_pb2.Role.DESCRIPTOR, skip_zero=True)
    values = _fields(
        draw,
        {
            "name": (
                st.one_of(st.just("fuzz-token"), TEXT.filter(str.strip)),
                st.one_of(
                    st.sampled_from(["", " ", "\t\n"]), st.sampled_from(["t" * 129, "é" * 200])
                ),
            ),
            "role": (role_good, role_bad),
        },
    )
    return pb.CreateTokenRequest(**values)


def create_token(t: Targets) -> st.SearchStrategy[Message]:
    return _create_token(t)


def list_tokens(t: Targets) -> st.SearchStrategy[Message]:
    return st.builds(pb.ListTokensRequest, include_revoked=st.booleans())


def revoke_token(t: Targets) -> st.SearchStrategy[Message]:
    return st.builds(
        pb.RevokeTokenRequest,
        token_id=st.one_of(
            st.sampled_from(t.token_ids),
            st.from_regex(r"tok_[0-9a-f]{12}", fullmatch=True),
            s.junk_names(),
            st.from_regex(r"tok_[0-9a-fA-Z]{0,14}", fullmatch=True),
        ),
    )


STRATEGIES: dict[str, RequestStrategy] = {
    "CreateDeployment": create_deployment,
    "GetDeployment": get_deployment,
    "ListDeployments": list_deployments,
    "UpdateDeployment": update_deployment,
    "DeleteDeployment": delete_deployment,
    "CreateExecution": create_execution,
    "GetExecution": get_execution,
    "ListExecutions": list_executions,
    "DeleteExecution": delete_execution,
    "GetExecutionInput": get_execution_input,
    "GetExecutionOutput": get_execution_output,
    "GetJobStatus": get_job_status,
    "UpdateJobStatus": update_job_status,
    "CancelExecution": cancel_execution,
    "SetExecutionOutputs": set_execution_outputs,
    "UpdateStep": update_step,
    "AppendLogs": append_logs,
    "GetExecutionLogs": get_execution_logs,
    "WatchStatus": watch_status,
    "StreamLogs": stream_logs,
    "LogMetrics": log_metrics,
    "ListMetrics": list_metrics,
    "GetMetricHistory": get_metric_history,
    "StreamMetrics": stream_metrics,
    "GetServiceInfo": get_service_info,
    "CreateToken": create_token,
    "ListTokens": list_tokens,
    "RevokeToken": revoke_token,
    "CreateSubscription": create_subscription,
    "GetSubscription": _by_subscription_id(pb.GetSubscriptionRequest),
    "ListSubscriptions": list_subscriptions,
    "DeleteSubscription": _by_subscription_id(pb.DeleteSubscriptionRequest),
    "PauseSubscription": _by_subscription_id(pb.PauseSubscriptionRequest),
    "ResumeSubscription": _by_subscription_id(pb.ResumeSubscriptionRequest),
    "ListDeliveries": list_deliveries,
    "TestSubscription": _by_subscription_id(pb.TestSubscriptionRequest),
}


# Confinement: the fields through which an RPC writes or deletes, per RPC. Every RPC
# is listed (reads with no path) so a new RPC must be classified before it is fuzzed.

Path = tuple[str, ...]
WRITES: dict[str, tuple[Path, ...]] = {
    "CreateDeployment": (("deployment", "name"),),
    "GetDeployment": (),
    "ListDeployments": (),
    "UpdateDeployment": (("deployment", "name"),),
    "DeleteDeployment": (("name",),),
    "CreateExecution": (("execution", "execution_id"), ("execution", "deployment_name")),
    "GetExecution": (),
    "ListExecutions": (),
    "DeleteExecution": (("execution_id",),),
    "GetExecutionInput": (),
    "GetExecutionOutput": (),
    "GetJobStatus": (),
    "UpdateJobStatus": (("execution_id",),),
    "CancelExecution": (("execution_id",),),
    "SetExecutionOutputs": (("execution_id",),),
    "UpdateStep": (("execution_id",),),
    "AppendLogs": (("execution_id",),),
    "GetExecutionLogs": (),
    "WatchStatus": (),
    "StreamLogs": (),
    "LogMetrics": (("execution_id",),),
    "ListMetrics": (),
    "GetMetricHistory": (),
    "StreamMetrics": (),
    "GetServiceInfo": (),
    "CreateToken": (),
    "ListTokens": (),
    "RevokeToken": (("token_id",),),
    # Subscriptions are admin data of their own: the test deletes what CreateSubscription
    # made, and the ids it acts on are its own, random (never another test's), or junk.
    "CreateSubscription": (),
    "GetSubscription": (),
    "ListSubscriptions": (),
    "DeleteSubscription": (),
    "PauseSubscription": (),
    "ResumeSubscription": (),
    "ListDeliveries": (),
    "TestSubscription": (),
}


def _could_exist(value: str) -> bool:
    return bool(DEPLOYMENT_NAME.fullmatch(value) or EXECUTION_ID.fullmatch(value))


def confine(method: str, request: Message, targets: Targets) -> Message:
    """Point writes only at the fuzzer's own data, deletes only at names that cannot exist.

    A name or id that could name something of another test gets the "fuzz-" prefix
    (the server may then create it); for a delete it gets "fuzz-absent-" unless it
    is already such a name. Invalid names are left as they are: nothing has them.
    RevokeToken ids are left too: 48 random bits never hit another test's token.
    """
    if method == "RevokeToken":
        return request
    for path in WRITES[method]:
        holder = request
        for name in path[:-1]:
            if not holder.HasField(name):
                break
            holder = getattr(holder, name)
        else:
            field = path[-1]
            value = getattr(holder, field)
            if method.startswith("Delete"):
                if _could_exist(value) and not value.startswith(ABSENT_PREFIX):
                    setattr(holder, field, ABSENT_PREFIX + value)
            elif _could_exist(value) and not value.startswith(OWN_PREFIX):
                setattr(holder, field, OWN_PREFIX + value)
    return request


# SEEDS: requests that once broke the server, sent on every run (as explicit examples)
# so that the fast run always checks them.


def _nested_output(execution_id: str, depth: int) -> Message:
    request = pb.SetExecutionOutputsRequest(execution_id=execution_id)
    s.nest_value(request.outputs.add(name="deep").value, depth)
    return request


def _seeds(t: Targets) -> dict[str, list[Message]]:
    waiting, running, _ = t.executions
    cron = t.deployments[-1]
    bad_time = {"seconds": 1, "nanos": -1}
    return {
        "CreateDeployment": [
            pb.CreateDeploymentRequest(
                deployment=deployment_pb2.Deployment(
                    name=f"{OWN_PREFIX}seed-feb30",
                    pipeline_name="p",
                    execution_rule=PERIODIC,
                    schedule="0 0 30 2 *",
                )
            ),
            pb.CreateDeploymentRequest(
                deployment=deployment_pb2.Deployment(
                    name=f"{OWN_PREFIX}seed-spaces",
                    pipeline_name="p",
                    execution_rule=PERIODIC,
                    schedule="0" + " " * 300 + "3 * * *",
                )
            ),
            pb.CreateDeploymentRequest(
                deployment=deployment_pb2.Deployment(
                    name=f"{OWN_PREFIX}seed-nul",
                    pipeline_name="p",
                    execution_rule=ENDPOINT,
                    description="\x00",
                )
            ),
        ],
        "UpdateDeployment": [
            pb.UpdateDeploymentRequest(
                deployment=deployment_pb2.Deployment(name=cron, schedule="0 0 31 4 *"),
                update_mask={"paths": ["schedule"]},
            )
        ],
        "ListDeployments": [pb.ListDeploymentsRequest(filter='pipeline_name = "a\x00b"')],
        "ListExecutions": [
            pb.ListExecutionsRequest(filter='create_time > "0001-01-01T00:00:00+01:00"')
        ],
        "CreateExecution": [
            pb.CreateExecutionRequest(
                execution=execution_pb2.Execution(
                    inputs=[io_pb2.ExecutionInput(name="i", value={"number_value": float("nan")})]
                )
            ),
            pb.CreateExecutionRequest(
                execution=execution_pb2.Execution(
                    steps=[execution_pb2.Step(name="s", start_time=bad_time)]
                )
            ),
            pb.CreateExecutionRequest(execution=execution_pb2.Execution(job_name="\x00")),
        ],
        "SetExecutionOutputs": [
            _nested_output(running, 49),  # parses; the answer, one level deeper, does not
            _nested_output(running, 50),  # does not parse
            pb.SetExecutionOutputsRequest(
                execution_id=running,
                outputs=[io_pb2.ExecutionOutput(name="o", value={"number_value": float("inf")})],
            ),
            pb.SetExecutionOutputsRequest(
                execution_id=running,
                outputs=[io_pb2.ExecutionOutput(name=f"o{i % 2000}") for i in range(5000)],
            ),
        ],
        "UpdateStep": [
            pb.UpdateStepRequest(
                execution_id=running, step=execution_pb2.Step(name="s", start_time=bad_time)
            )
        ],
        "AppendLogs": [
            pb.AppendLogsRequest(
                execution_id=running,
                entries=[execution_pb2.LogEntry(message="x", timestamp={"seconds": 253402300800})],
            ),
            pb.AppendLogsRequest(
                execution_id=running, entries=[execution_pb2.LogEntry(message="\x00")]
            ),
        ],
        "GetExecutionLogs": [pb.GetExecutionLogsRequest(execution_id=running, from_time=bad_time)],
        "StreamLogs": [pb.StreamLogsRequest(execution_id=running, since=bad_time)],
        "UpdateJobStatus": [
            pb.UpdateJobStatusRequest(execution_id=waiting, start=pb.StartAction(phase="\x00"))
        ],
        "CancelExecution": [pb.CancelExecutionRequest(execution_id=running, reason="\x00")],
        "CreateToken": [pb.CreateTokenRequest(name="a\x00", role=auth_pb2.ROLE_READER)],
    }


def seeds(method: str, t: Targets) -> list[Message]:
    return _seeds(t).get(method, [])
