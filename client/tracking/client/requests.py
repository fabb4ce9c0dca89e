"""Request builders shared by the sync and async clients: pure functions, no I/O."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, TypedDict, Unpack

from google.protobuf import field_mask_pb2, struct_pb2

from tracking.v1 import (
    auth_pb2,
    deployment_pb2,
    execution_pb2,
    io_pb2,
    metric_pb2,
    status_pb2,
    subscription_pb2,
)
from tracking.v1 import tracking_service_pb2 as pb

from .convert import EnumArg, enum_value, optional_duration, optional_timestamp, to_struct

JsonObject = Mapping[str, Any]


class DeploymentFields(TypedDict, total=False):
    """Optional fields of a deployment, as keyword arguments."""

    description: str
    mode: EnumArg
    schedule: str
    inputs_mapping: Iterable[io_pb2.InputMapping]
    outputs_mapping: Iterable[io_pb2.OutputMapping]
    status: EnumArg
    is_enabled: bool
    pods: Iterable[deployment_pb2.Pod]
    labels: Mapping[str, str]
    endpoint_token: str


class DeploymentUpdate(DeploymentFields, total=False):
    """The fields UpdateDeployment may change, as keyword arguments."""

    pipeline_name: str


def _check_keys(given: Mapping[str, object], allowed: frozenset[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(unknown)}")


def _deployment(name: str, fields: DeploymentUpdate) -> deployment_pb2.Deployment:
    # is_enabled is set, true or false, whenever it is given: an unset one means enabled at
    # create and disabled in an update, so the server is never left to guess.
    return deployment_pb2.Deployment(
        name=name,
        pipeline_name=fields.get("pipeline_name", ""),
        description=fields.get("description", ""),
        mode=enum_value(deployment_pb2.DeploymentMode, fields.get("mode", 0)),
        schedule=fields.get("schedule", ""),
        inputs_mapping=fields.get("inputs_mapping", ()),
        outputs_mapping=fields.get("outputs_mapping", ()),
        status=enum_value(deployment_pb2.DeploymentStatus, fields.get("status", 0)),
        is_enabled=fields.get("is_enabled"),
        pods=fields.get("pods", ()),
        labels=fields.get("labels", {}),
        endpoint_token=fields.get("endpoint_token", ""),
    )


def create_deployment(
    name: str, pipeline_name: str, execution_rule: EnumArg, **fields: Unpack[DeploymentFields]
) -> pb.CreateDeploymentRequest:
    """CreateDeployment; `is_enabled` defaults to True."""
    _check_keys(fields, DeploymentFields.__optional_keys__)
    deployment = _deployment(name, {"is_enabled": True, **fields, "pipeline_name": pipeline_name})
    deployment.execution_rule = enum_value(deployment_pb2.ExecutionRule, execution_rule)
    return pb.CreateDeploymentRequest(deployment=deployment)


def get_deployment(name: str) -> pb.GetDeploymentRequest:
    """GetDeployment."""
    return pb.GetDeploymentRequest(name=name)


def list_deployments(
    *, filter: str = "", page_size: int = 0, page_token: str = ""
) -> pb.ListDeploymentsRequest:
    """ListDeployments, one page."""
    return pb.ListDeploymentsRequest(filter=filter, page_size=page_size, page_token=page_token)


def update_deployment(name: str, **changes: Unpack[DeploymentUpdate]) -> pb.UpdateDeploymentRequest:
    """UpdateDeployment; the update mask names exactly the keyword arguments given."""
    _check_keys(changes, DeploymentUpdate.__optional_keys__)
    if not changes:
        raise ValueError("update_deployment needs at least one field to change")
    return pb.UpdateDeploymentRequest(
        deployment=_deployment(name, changes),
        update_mask=field_mask_pb2.FieldMask(paths=list(changes)),
    )


def delete_deployment(name: str) -> pb.DeleteDeploymentRequest:
    """DeleteDeployment."""
    return pb.DeleteDeploymentRequest(name=name)


class ExecutionFields(TypedDict, total=False):
    """The fields a creator may set on an execution, as keyword arguments.

    `request_id`: a retry with the same one returns the first execution (one is generated
    when none is given, so a retry is safe). `heartbeat_timeout` in seconds (None: the
    server's default, 0: no lease).
    """

    deployment_name: str
    execution_id: str
    pipeline_name: str
    job_name: str
    job_type: EnumArg
    experiment_name: str
    model_run_id: str
    inputs: Iterable[io_pb2.ExecutionInput]
    labels: Mapping[str, str] | None
    steps: Iterable[execution_pb2.Step]
    request_id: str | None
    heartbeat_timeout: float | None
    command: Iterable[str]


def create_execution(**fields: Unpack[ExecutionFields]) -> pb.CreateExecutionRequest:
    """CreateExecution (see ExecutionFields)."""
    _check_keys(fields, ExecutionFields.__optional_keys__)
    request_id = fields.get("request_id")
    return pb.CreateExecutionRequest(
        execution=execution_pb2.Execution(
            heartbeat_timeout=optional_duration(fields.get("heartbeat_timeout")),
            command=fields.get("command", ()),
            execution_id=fields.get("execution_id", ""),
            deployment_name=fields.get("deployment_name", ""),
            pipeline_name=fields.get("pipeline_name", ""),
            job_name=fields.get("job_name", ""),
            job_type=enum_value(
                execution_pb2.JobType, fields.get("job_type", execution_pb2.JOB_TYPE_UNSPECIFIED)
            ),
            experiment_name=fields.get("experiment_name", ""),
            model_run_id=fields.get("model_run_id", ""),
            inputs=fields.get("inputs", ()),
            labels=fields.get("labels"),
            steps=fields.get("steps", ()),
        ),
        request_id=request_id if request_id is not None else uuid.uuid4().hex,
    )


def get_execution(execution_id: str) -> pb.GetExecutionRequest:
    """GetExecution."""
    return pb.GetExecutionRequest(execution_id=execution_id)


def list_executions(
    *, filter: str = "", page_size: int = 0, page_token: str = ""
) -> pb.ListExecutionsRequest:
    """ListExecutions, one page."""
    return pb.ListExecutionsRequest(filter=filter, page_size=page_size, page_token=page_token)


def delete_execution(execution_id: str) -> pb.DeleteExecutionRequest:
    """DeleteExecution."""
    return pb.DeleteExecutionRequest(execution_id=execution_id)


def get_execution_input(execution_id: str, input_name: str) -> pb.GetExecutionInputRequest:
    """GetExecutionInput."""
    return pb.GetExecutionInputRequest(execution_id=execution_id, input_name=input_name)


def get_execution_output(execution_id: str, output_name: str) -> pb.GetExecutionOutputRequest:
    """GetExecutionOutput."""
    return pb.GetExecutionOutputRequest(execution_id=execution_id, output_name=output_name)


def get_job_status(execution_id: str) -> pb.GetJobStatusRequest:
    """GetJobStatus."""
    return pb.GetJobStatusRequest(execution_id=execution_id)


def start(
    execution_id: str,
    *,
    phase: str = "",
    heartbeat_timeout: float | None = None,
    expected_revision: int | None = None,
) -> pb.UpdateJobStatusRequest:
    """UpdateJobStatus with a start action (heartbeat_timeout in seconds replaces the
    execution's when given)."""
    return pb.UpdateJobStatusRequest(
        execution_id=execution_id,
        start=pb.StartAction(phase=phase, heartbeat_timeout=optional_duration(heartbeat_timeout)),
        expected_revision=expected_revision,
    )


def heartbeat(execution_id: str) -> pb.UpdateJobStatusRequest:
    """UpdateJobStatus with a heartbeat action."""
    return pb.UpdateJobStatusRequest(execution_id=execution_id, heartbeat=pb.HeartbeatAction())


def update_progress(
    execution_id: str, progress: float, *, phase: str = "", expected_revision: int | None = None
) -> pb.UpdateJobStatusRequest:
    """UpdateJobStatus with a progress action."""
    return pb.UpdateJobStatusRequest(
        execution_id=execution_id,
        progress=pb.ProgressAction(progress=progress, phase=phase),
        expected_revision=expected_revision,
    )


def suspend(
    execution_id: str, *, reason: str = "", expected_revision: int | None = None
) -> pb.UpdateJobStatusRequest:
    """UpdateJobStatus with a suspend action."""
    return pb.UpdateJobStatusRequest(
        execution_id=execution_id,
        suspend=pb.SuspendAction(reason=reason),
        expected_revision=expected_revision,
    )


def resume(execution_id: str, *, expected_revision: int | None = None) -> pb.UpdateJobStatusRequest:
    """UpdateJobStatus with a resume action."""
    return pb.UpdateJobStatusRequest(
        execution_id=execution_id,
        resume=pb.ResumeAction(),
        expected_revision=expected_revision,
    )


def stop(
    execution_id: str,
    cause: EnumArg = status_pb2.RUNNING_STATUS_SUCCESS,
    message: str = "",
    *,
    expected_revision: int | None = None,
) -> pb.UpdateJobStatusRequest:
    """UpdateJobStatus with a stop action."""
    return pb.UpdateJobStatusRequest(
        execution_id=execution_id,
        stop=pb.StopAction(cause=enum_value(status_pb2.RunningStatus, cause), message=message),
        expected_revision=expected_revision,
    )


def set_times(
    execution_id: str,
    *,
    create_time: dt.datetime | None = None,
    start_time: dt.datetime | None = None,
    duration: dt.timedelta | None = None,
    expected_revision: int | None = None,
) -> pb.UpdateJobStatusRequest:
    """UpdateJobStatus with a times action: only the times given; naive datetimes are UTC."""
    return pb.UpdateJobStatusRequest(
        execution_id=execution_id,
        times=pb.TimesAction(
            create_time=optional_timestamp(create_time),
            start_time=optional_timestamp(start_time),
            duration=optional_duration(duration),
        ),
        expected_revision=expected_revision,
    )


def cancel_execution(execution_id: str, *, reason: str = "") -> pb.CancelExecutionRequest:
    """CancelExecution."""
    return pb.CancelExecutionRequest(execution_id=execution_id, reason=reason)


def set_execution_outputs(
    execution_id: str,
    *,
    outputs: Iterable[io_pb2.ExecutionOutput] = (),
    result: JsonObject | struct_pb2.Struct | None = None,
    export_paths: Mapping[str, str] | None = None,
    source_views: Mapping[str, str] | None = None,
) -> pb.SetExecutionOutputsRequest:
    """SetExecutionOutputs; a dict result becomes a Struct, None leaves the result unchanged."""
    return pb.SetExecutionOutputsRequest(
        execution_id=execution_id,
        outputs=outputs,
        result=None if result is None else to_struct(result),
        export_paths=export_paths,
        source_views=source_views,
    )


def update_step(execution_id: str, step: execution_pb2.Step) -> pb.UpdateStepRequest:
    """UpdateStep."""
    return pb.UpdateStepRequest(execution_id=execution_id, step=step)


def log_entry(entry: execution_pb2.LogEntry | str) -> execution_pb2.LogEntry:
    """A LogEntry as is, or a str as a STDOUT line (one trailing newline dropped)."""
    if isinstance(entry, execution_pb2.LogEntry):
        return entry
    message = entry.removesuffix("\n").removesuffix("\r")
    return execution_pb2.LogEntry(stream=execution_pb2.LOG_STREAM_STDOUT, message=message)


def append_logs(
    execution_id: str, entries: Iterable[execution_pb2.LogEntry | str]
) -> pb.AppendLogsRequest:
    """AppendLogs."""
    return pb.AppendLogsRequest(execution_id=execution_id, entries=[log_entry(e) for e in entries])


MetricArg = metric_pb2.MetricPoint | tuple[str, float] | tuple[str, float, int | None]


def metric_point(
    name: str, value: float, step: int | None = None, time: dt.datetime | None = None
) -> metric_pb2.MetricPoint:
    """One point; without a step it follows its series' largest step, without a time it
    takes the server's (naive datetimes are taken as UTC)."""
    point = metric_pb2.MetricPoint(name=name, value=value, time=optional_timestamp(time))
    if step is not None:
        point.step = step
    return point


def log_metrics(execution_id: str, points: Iterable[MetricArg]) -> pb.LogMetricsRequest:
    """LogMetrics: each point a MetricPoint, or a (name, value) or (name, value, step) tuple."""
    return pb.LogMetricsRequest(
        execution_id=execution_id,
        points=[p if isinstance(p, metric_pb2.MetricPoint) else metric_point(*p) for p in points],
    )


def get_metric_history(
    execution_ids: str | Iterable[str],
    name: str,
    *,
    start_step: int | None = None,
    end_step: int | None = None,
    max_points: int = 1000,
    exact: bool = False,
    page_token: str = "",
) -> pb.GetMetricHistoryRequest:
    """GetMetricHistory of one execution (a str) or several."""
    request = pb.GetMetricHistoryRequest(
        execution_ids=[execution_ids] if isinstance(execution_ids, str) else list(execution_ids),
        name=name,
        max_points=max_points,
        exact=exact,
        page_token=page_token,
    )
    if start_step is not None:
        request.start_step = start_step
    if end_step is not None:
        request.end_step = end_step
    return request


def stream_metrics(
    execution_id: str, *, after_seq: int = 0, names: Iterable[str] = (), follow: bool = False
) -> pb.StreamMetricsRequest:
    """StreamMetrics."""
    return pb.StreamMetricsRequest(
        execution_id=execution_id, after_seq=after_seq, names=list(names), follow=follow
    )


def get_execution_logs(
    execution_id: str,
    *,
    from_time: dt.datetime | None = None,
    to_time: dt.datetime | None = None,
    limit: int = 0,
    stream: EnumArg = execution_pb2.LOG_STREAM_UNSPECIFIED,
    after_seq: int = 0,
    contains: str = "",
    pattern: str = "",
) -> pb.GetExecutionLogsRequest:
    """GetExecutionLogs; naive datetimes are taken as UTC."""
    return pb.GetExecutionLogsRequest(
        execution_id=execution_id,
        from_time=optional_timestamp(from_time),
        to_time=optional_timestamp(to_time),
        limit=limit,
        stream=enum_value(execution_pb2.LogStream, stream),
        after_seq=after_seq,
        contains=contains,
        pattern=pattern,
    )


def watch_status(
    *,
    execution_id: str = "",
    deployment_name: str = "",
    after_revision: int = 0,
    resume_token: str = "",
) -> pb.WatchStatusRequest:
    """WatchStatus."""
    return pb.WatchStatusRequest(
        execution_id=execution_id,
        deployment_name=deployment_name,
        after_revision=after_revision,
        resume_token=resume_token,
    )


def stream_logs(
    execution_id: str = "",
    *,
    deployment_name: str = "",
    after_seq: int = 0,
    since: dt.datetime | None = None,
    tail: int = 0,
    stream: EnumArg = execution_pb2.LOG_STREAM_UNSPECIFIED,
    follow: bool = False,
    contains: str = "",
    pattern: str = "",
    resume_token: str = "",
) -> pb.StreamLogsRequest:
    """StreamLogs of one execution or of a whole deployment; a naive `since` is taken as UTC."""
    return pb.StreamLogsRequest(
        execution_id=execution_id,
        deployment_name=deployment_name,
        after_seq=after_seq,
        since=optional_timestamp(since),
        tail=tail,
        stream=enum_value(execution_pb2.LogStream, stream),
        follow=follow,
        contains=contains,
        pattern=pattern,
        resume_token=resume_token,
    )


def create_token(name: str, role: EnumArg) -> pb.CreateTokenRequest:
    """CreateToken; role is a Role number or a name such as "writer"."""
    return pb.CreateTokenRequest(name=name, role=enum_value(auth_pb2.Role, role))


def list_tokens(include_revoked: bool) -> pb.ListTokensRequest:
    """ListTokens."""
    return pb.ListTokensRequest(include_revoked=include_revoked)


def revoke_token(token_id: str) -> pb.RevokeTokenRequest:
    """RevokeToken."""
    return pb.RevokeTokenRequest(token_id=token_id)


def create_subscription(
    name: str,
    *,
    webhook: str = "",
    nats: str | None = None,
    deployments: Iterable[str] = (),
    kinds: Iterable[EnumArg] = (),
    statuses: Iterable[EnumArg] = (),
    request_id: str = "",
) -> pb.CreateSubscriptionRequest:
    """CreateSubscription to a webhook URL or a NATS subject prefix ("" for the default);
    kinds are EventKind numbers or names ("execution_status_changed"), statuses
    RunningStatus numbers or names ("success")."""
    subscription = subscription_pb2.Subscription(
        name=name,
        filter=subscription_pb2.SubscriptionFilter(
            deployment_names=list(deployments),
            kinds=[enum_value(subscription_pb2.EventKind, kind) for kind in kinds],
            statuses=[enum_value(status_pb2.RunningStatus, status) for status in statuses],
        ),
    )
    if webhook:
        subscription.webhook.url = webhook
    elif nats is not None:
        subscription.nats.subject = nats
    return pb.CreateSubscriptionRequest(subscription=subscription, request_id=request_id)
