"""Proto messages <-> stored rows and domain values. Nothing else lives here."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from tracking.service.domain import schedule
from tracking.service.domain.errors import InvalidArgument, ValidationCollector
from tracking.service.store.models import DeploymentRow, ExecutionEventRow, ExecutionRow, LogLineRow
from tracking.v1 import deployment_pb2, execution_pb2, io_pb2, status_pb2

# Stored enum names drop the proto prefix: RUNNING_STATUS_WAITING is stored as "WAITING".
_PREFIXES = {
    "RunningStatus": "RUNNING_STATUS_",
    "ExecutionRule": "EXECUTION_RULE_",
    "DeploymentMode": "DEPLOYMENT_MODE_",
    "DeploymentStatus": "DEPLOYMENT_STATUS_",
    "JobType": "JOB_TYPE_",
    "LogStream": "LOG_STREAM_",
    "ChangeKind": "CHANGE_KIND_",
    "Role": "ROLE_",
}


@functools.cache
def enum_name(descriptor: EnumDescriptor, number: int) -> str:
    """The stored name of an enum value, e.g. 'PERIODIC'; the caller checked it exists."""
    return descriptor.values_by_number[number].name.removeprefix(_PREFIXES[descriptor.name])


@functools.cache
def enum_number(descriptor: EnumDescriptor, name: str) -> Any:
    """The wire number of a stored enum name (typed Any: the stubs want enum wrappers)."""
    return descriptor.values_by_name[_PREFIXES[descriptor.name] + name].number


def check_enums(errors: ValidationCollector, message: Message, path: str) -> None:
    """Name every enum field (at any depth) whose value the contract does not define, and
    every string holding a NUL character (no database column can store one)."""
    for field, value in message.ListFields():
        where = f"{path}.{field.name}" if path else field.name
        if field.type == FieldDescriptor.TYPE_ENUM:
            assert field.enum_type is not None
            values = value if _is_repeated(field) else [value]
            for item in values:
                if item not in field.enum_type.values_by_number:
                    errors.add(where, f"{item} is not a value of {field.enum_type.full_name}")
        elif field.type == FieldDescriptor.TYPE_STRING:
            for item in value if _is_repeated(field) else [value]:
                if "\x00" in item:
                    errors.add(where, "must not contain NUL characters")
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            nested = field.message_type
            assert nested is not None
            if nested.GetOptions().map_entry:
                for key, item in value.items():
                    if "\x00" in str(key) or (isinstance(item, str) and "\x00" in item):
                        errors.add(f"{where}[{str(key)[:40]!r}]", "must not contain NUL characters")
                continue
            if nested.full_name.startswith("google.protobuf."):
                continue
            items = value if _is_repeated(field) else [value]
            for index, item in enumerate(items):
                check_enums(errors, item, f"{where}[{index}]" if _is_repeated(field) else where)


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def to_json(message: Message, field: str) -> dict[str, Any]:
    """The proto-JSON form stored for a nested message; INVALID_ARGUMENT if JSON cannot hold it."""
    try:
        document = json_format.MessageToDict(message, preserving_proto_field_name=True)
    except (json_format.Error, ValueError) as error:
        raise InvalidArgument.of(field, f"cannot be stored: {error}") from None
    if "\\u0000" in json.dumps(document):
        raise InvalidArgument.of(field, "must not contain NUL characters")
    if _depth(document) > MAX_VALUE_DEPTH:
        # Deeper values would make every later response carrying them too deep to parse.
        raise InvalidArgument.of(field, f"nests values more than {MAX_VALUE_DEPTH} levels deep")
    return document


MAX_VALUE_DEPTH = 32


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def from_json(document: dict[str, Any], message: Message) -> Any:
    return json_format.ParseDict(document, message, ignore_unknown_fields=True)


def time_or_none(timestamp: Timestamp, present: bool, field: str) -> datetime | None:
    """The time a Timestamp field holds; INVALID_ARGUMENT naming the field if out of range."""
    if not present or (timestamp.seconds == 0 and timestamp.nanos == 0):
        return None
    try:
        return timestamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as error:
        raise InvalidArgument.of(field, f"is not a valid time: {error}") from None


# The range google.protobuf.Duration allows: about 10,000 years either way.
_MAX_DURATION_SECONDS = 315_576_000_000


def timedelta_or_none(duration: Duration, present: bool, field: str) -> timedelta | None:
    """The span a Duration field holds; INVALID_ARGUMENT naming the field if it is not a
    valid Duration (out of range, or seconds and nanos of different signs)."""
    if not present:
        return None
    seconds, nanos = duration.seconds, duration.nanos
    if (
        abs(seconds) > _MAX_DURATION_SECONDS
        or abs(nanos) > 999_999_999
        or (seconds < 0 < nanos)
        or (nanos < 0 < seconds)
    ):
        raise InvalidArgument.of(
            field, f"is not a valid duration (seconds {seconds}, nanos {nanos})"
        )
    return duration.ToTimedelta()


def seconds_or_none(duration: Duration, present: bool, field: str) -> float | None:
    """As timedelta_or_none, in seconds."""
    span = timedelta_or_none(duration, present, field)
    return None if span is None else span.total_seconds()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def stamp(value: datetime | None) -> Timestamp | None:
    """Timestamp.FromDatetime without its per-call conversions (the values are aware UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    since = value - _EPOCH
    return Timestamp(seconds=since.days * 86400 + since.seconds, nanos=since.microseconds * 1000)


# Deployments


def deployment_fields(
    deployment: deployment_pb2.Deployment, *, enabled_when_unset: bool = True
) -> dict[str, Any]:
    """The stored fields of a Deployment (defaults applied); enums already checked.

    An unset is_enabled reads as `enabled_when_unset`: True at create, False in an update
    (see UpdateDeploymentRequest.update_mask)."""
    mode = enum_name(deployment_pb2.DeploymentMode.DESCRIPTOR, deployment.mode)
    status = enum_name(deployment_pb2.DeploymentStatus.DESCRIPTOR, deployment.status)
    return {
        "name": deployment.name,
        "pipeline_name": deployment.pipeline_name,
        "description": deployment.description,
        "execution_rule": enum_name(
            deployment_pb2.ExecutionRule.DESCRIPTOR, deployment.execution_rule
        ),
        "mode": "ELASTIC" if mode == "UNSPECIFIED" else mode,
        "schedule": deployment.schedule.strip(),
        "inputs_mapping": [
            to_json(m, f"deployment.inputs_mapping[{i}]")
            for i, m in enumerate(deployment.inputs_mapping)
        ],
        "outputs_mapping": [
            to_json(m, f"deployment.outputs_mapping[{i}]")
            for i, m in enumerate(deployment.outputs_mapping)
        ],
        "status": "PENDING" if status == "UNSPECIFIED" else status,
        "is_enabled": (
            deployment.is_enabled if deployment.HasField("is_enabled") else enabled_when_unset
        ),
        "pods": [to_json(p, f"deployment.pods[{i}]") for i, p in enumerate(deployment.pods)],
        "labels": dict(deployment.labels),
        "endpoint_token": deployment.endpoint_token,
    }


def deployment_proto(row: DeploymentRow, now: datetime) -> deployment_pb2.Deployment:
    deployment = deployment_pb2.Deployment(
        name=row.name,
        pipeline_name=row.pipeline_name,
        description=row.description,
        execution_rule=enum_number(deployment_pb2.ExecutionRule.DESCRIPTOR, row.execution_rule),
        mode=enum_number(deployment_pb2.DeploymentMode.DESCRIPTOR, row.mode),
        schedule=row.schedule,
        inputs_mapping=[from_json(m, io_pb2.InputMapping()) for m in row.inputs_mapping],
        outputs_mapping=[from_json(m, io_pb2.OutputMapping()) for m in row.outputs_mapping],
        status=enum_number(deployment_pb2.DeploymentStatus.DESCRIPTOR, row.status),
        is_enabled=row.is_enabled,
        pods=[from_json(p, deployment_pb2.Pod()) for p in row.pods],
        labels=row.labels,
        create_time=stamp(row.create_time),
        created_by=row.created_by,
        update_time=stamp(row.update_time),
        updated_by=row.updated_by,
        last_execution_id=row.last_execution_id,
        endpoint_token=row.endpoint_token,
    )
    if row.execution_rule == "PERIODIC" and row.schedule:
        deployment.human_readable_schedule = schedule.describe(row.schedule)
        deployment.next_run_time.FromDatetime(schedule.next_run(row.schedule, now))
    return deployment


# Executions


def execution_fields(execution: execution_pb2.Execution) -> dict[str, Any]:
    """The fields a creator may set; enums already checked."""
    return {
        "execution_id": execution.execution_id,
        "deployment_name": execution.deployment_name,
        "pipeline_name": execution.pipeline_name,
        "job_name": execution.job_name,
        "job_type": enum_name(execution_pb2.JobType.DESCRIPTOR, execution.job_type),
        "experiment_name": execution.experiment_name,
        "model_run_id": execution.model_run_id,
        "steps": [to_json(s, f"execution.steps[{i}]") for i, s in enumerate(execution.steps)],
        "inputs": [to_json(x, f"execution.inputs[{i}]") for i, x in enumerate(execution.inputs)],
        "labels": dict(execution.labels),
        "command": list(execution.command),
        "heartbeat_timeout_seconds": seconds_or_none(
            execution.heartbeat_timeout,
            execution.HasField("heartbeat_timeout"),
            "execution.heartbeat_timeout",
        ),
    }


def job_status_proto(snapshot: dict[str, Any]) -> status_pb2.JobStatus:
    """A JobStatus from the snapshot an event keeps (see store.executions.job_status_snapshot)."""

    def parse(key: str) -> datetime | None:
        value = snapshot.get(key)
        return datetime.fromisoformat(value) if value else None

    start, end, updated = parse("start_time"), parse("end_time"), parse("update_time")
    reported = snapshot.get("reported_duration_seconds")
    status = status_pb2.JobStatus(
        status=enum_number(status_pb2.RunningStatus.DESCRIPTOR, snapshot["status"]),
        progress=snapshot["progress"],
        phase=snapshot["phase"],
        stop_message=snapshot["stop_message"],
        cancel_reason=snapshot.get("cancel_reason", ""),
        create_time=stamp(parse("create_time")),
        start_time=stamp(start),
        end_time=stamp(end),
        update_time=stamp(updated),
        revision=snapshot["revision"],
        last_heartbeat_time=stamp(parse("last_heartbeat_time")),
        lease_expire_time=stamp(parse("lease_expire_time")),
    )
    if reported is not None:
        status.duration.FromTimedelta(timedelta(seconds=reported))
    elif start is not None:
        status.duration.FromTimedelta((end or updated or start) - start)
    return status


class JobStatusFields(Protocol):
    """An execution's JobStatus columns: an ExecutionRow, or a view read without the ORM."""

    @property
    def status(self) -> str: ...
    @property
    def progress(self) -> float: ...
    @property
    def phase(self) -> str: ...
    @property
    def stop_message(self) -> str: ...
    @property
    def cancel_reason(self) -> str: ...
    @property
    def create_time(self) -> datetime: ...
    @property
    def start_time(self) -> datetime | None: ...
    @property
    def end_time(self) -> datetime | None: ...
    @property
    def update_time(self) -> datetime: ...
    @property
    def revision(self) -> int: ...
    @property
    def reported_duration_seconds(self) -> float | None: ...
    @property
    def reported_create_time(self) -> datetime | None: ...
    @property
    def last_heartbeat_time(self) -> datetime | None: ...
    @property
    def lease_expire_time(self) -> datetime | None: ...


class ExecutionFields(JobStatusFields, Protocol):
    """What an Execution message shows: an ExecutionRow or store.executions.ExecutionView."""

    @property
    def execution_id(self) -> str: ...
    @property
    def deployment_name(self) -> str | None: ...
    @property
    def pipeline_name(self) -> str: ...
    @property
    def job_name(self) -> str: ...
    @property
    def job_type(self) -> str: ...
    @property
    def experiment_name(self) -> str: ...
    @property
    def model_run_id(self) -> str: ...
    @property
    def created_by(self) -> str: ...
    @property
    def heartbeat_timeout_seconds(self) -> float: ...
    @property
    def command(self) -> list[str]: ...
    @property
    def steps(self) -> list[dict[str, Any]]: ...
    @property
    def inputs(self) -> list[dict[str, Any]]: ...
    @property
    def outputs(self) -> list[dict[str, Any]]: ...
    @property
    def result(self) -> dict[str, Any]: ...
    @property
    def export_paths(self) -> dict[str, str]: ...
    @property
    def source_views(self) -> dict[str, str]: ...
    @property
    def labels(self) -> dict[str, str]: ...


def job_status_of_row(row: JobStatusFields, now: datetime) -> status_pb2.JobStatus:
    """The JobStatus of a row as it stands now (a running execution's duration grows)."""
    status = status_pb2.JobStatus(
        status=enum_number(status_pb2.RunningStatus.DESCRIPTOR, row.status),
        progress=row.progress,
        phase=row.phase,
        stop_message=row.stop_message,
        cancel_reason=row.cancel_reason,
        create_time=stamp(row.reported_create_time or row.create_time),
        start_time=stamp(row.start_time),
        end_time=stamp(row.end_time),
        update_time=stamp(row.update_time),
        revision=row.revision,
        last_heartbeat_time=stamp(row.last_heartbeat_time),
        lease_expire_time=stamp(row.lease_expire_time),
    )
    if row.reported_duration_seconds is not None:
        status.duration.FromTimedelta(timedelta(seconds=row.reported_duration_seconds))
    elif row.start_time is not None:
        status.duration.FromTimedelta((row.end_time or now) - row.start_time)
    return status


def execution_proto(row: ExecutionFields, now: datetime) -> execution_pb2.Execution:
    execution = execution_pb2.Execution(
        execution_id=row.execution_id,
        deployment_name=row.deployment_name or "",
        pipeline_name=row.pipeline_name,
        job_name=row.job_name,
        job_type=enum_number(execution_pb2.JobType.DESCRIPTOR, row.job_type),
        experiment_name=row.experiment_name,
        model_run_id=row.model_run_id,
        job_status=job_status_of_row(row, now),
        steps=[from_json(s, execution_pb2.Step()) for s in row.steps],
        inputs=[from_json(i, io_pb2.ExecutionInput()) for i in row.inputs],
        outputs=[from_json(o, io_pb2.ExecutionOutput()) for o in row.outputs],
        export_paths=row.export_paths,
        source_views=row.source_views,
        labels=row.labels,
        created_by=row.created_by,
        command=row.command,
    )
    execution.heartbeat_timeout.FromNanoseconds(round(row.heartbeat_timeout_seconds * 1e9))
    if row.result:
        execution.result.update(row.result)
    return execution


def event_proto(event: ExecutionEventRow, resume_token: str = "") -> execution_pb2.ExecutionEvent:
    return execution_pb2.ExecutionEvent(
        execution_id=event.execution_id,
        deployment_name=event.deployment_name or "",
        revision=event.revision,
        job_status=job_status_proto(event.job_status),
        changes=[
            enum_number(execution_pb2.ChangeKind.DESCRIPTOR, c)
            for c in event.changes.split(",")
            if c
        ],
        resume_token=resume_token,
    )


def snapshot_proto(
    row: ExecutionRow, now: datetime, resume_token: str = ""
) -> execution_pb2.ExecutionEvent:
    return execution_pb2.ExecutionEvent(
        execution_id=row.execution_id,
        deployment_name=row.deployment_name or "",
        revision=row.revision,
        job_status=job_status_of_row(row, now),
        resume_token=resume_token,
        snapshot=True,
    )


# Logs


def log_line_fields(entry: execution_pb2.LogEntry, field: str) -> dict[str, Any]:
    stream = enum_name(execution_pb2.LogStream.DESCRIPTOR, entry.stream)
    return {
        "timestamp": time_or_none(
            entry.timestamp, entry.HasField("timestamp"), f"{field}.timestamp"
        ),
        "stream": "STDOUT" if stream == "UNSPECIFIED" else stream,
        "message": entry.message,
        "step_name": entry.step_name,
    }


def log_entry_proto(row: LogLineRow, with_execution_id: bool = False) -> execution_pb2.LogEntry:
    return execution_pb2.LogEntry(
        seq=row.seq,
        timestamp=stamp(row.timestamp),
        stream=enum_number(execution_pb2.LogStream.DESCRIPTOR, row.stream),
        message=row.message,
        step_name=row.step_name,
        execution_id=row.execution_id if with_execution_id else "",
    )


def stream_filter(stream: int) -> str | None:
    name = enum_name(execution_pb2.LogStream.DESCRIPTOR, stream)
    return None if name == "UNSPECIFIED" else name


M = TypeVar("M", bound=Message)
# What one response of a list or log read may carry, well under the 4 MiB message limit.
MAX_RESPONSE_BYTES = 2 * 1024 * 1024


def chunks_that_fit(messages: Iterable[M]) -> Iterator[list[M]]:
    """The messages in consecutive lists of at most MAX_RESPONSE_BYTES each (a larger
    message alone), in order; at least one list. Lazy: taking the first list builds no
    more messages than it holds, plus one."""
    chunk: list[M] = []
    size = 0
    for message in messages:
        message_size = message.ByteSize() + 8
        if chunk and size + message_size > MAX_RESPONSE_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += message_size
    yield chunk


def log_entries(
    rows: Iterable[LogLineRow], with_execution_id: bool = False
) -> Iterator[execution_pb2.LogEntry]:
    return (log_entry_proto(row, with_execution_id) for row in rows)
