import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tracking.v1 import io_pb2 as _io_pb2
from tracking.v1 import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_TYPE_UNSPECIFIED: _ClassVar[JobType]
    JOB_TYPE_TRAIN: _ClassVar[JobType]
    JOB_TYPE_INFERENCE: _ClassVar[JobType]
    JOB_TYPE_TRAIN_INFERENCE: _ClassVar[JobType]

class StepOrigin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_ORIGIN_UNSPECIFIED: _ClassVar[StepOrigin]
    STEP_ORIGIN_GIT_REPOSITORY: _ClassVar[StepOrigin]
    STEP_ORIGIN_LOCAL: _ClassVar[StepOrigin]

class LogStream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOG_STREAM_UNSPECIFIED: _ClassVar[LogStream]
    LOG_STREAM_STDOUT: _ClassVar[LogStream]
    LOG_STREAM_STDERR: _ClassVar[LogStream]

class ChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_KIND_UNSPECIFIED: _ClassVar[ChangeKind]
    CHANGE_KIND_CREATED: _ClassVar[ChangeKind]
    CHANGE_KIND_STATUS: _ClassVar[ChangeKind]
    CHANGE_KIND_PROGRESS: _ClassVar[ChangeKind]
    CHANGE_KIND_OUTPUTS: _ClassVar[ChangeKind]
    CHANGE_KIND_CANCEL_REQUEST: _ClassVar[ChangeKind]
    CHANGE_KIND_STEP: _ClassVar[ChangeKind]
    CHANGE_KIND_DELETED: _ClassVar[ChangeKind]
    CHANGE_KIND_TIMES: _ClassVar[ChangeKind]
JOB_TYPE_UNSPECIFIED: JobType
JOB_TYPE_TRAIN: JobType
JOB_TYPE_INFERENCE: JobType
JOB_TYPE_TRAIN_INFERENCE: JobType
STEP_ORIGIN_UNSPECIFIED: StepOrigin
STEP_ORIGIN_GIT_REPOSITORY: StepOrigin
STEP_ORIGIN_LOCAL: StepOrigin
LOG_STREAM_UNSPECIFIED: LogStream
LOG_STREAM_STDOUT: LogStream
LOG_STREAM_STDERR: LogStream
CHANGE_KIND_UNSPECIFIED: ChangeKind
CHANGE_KIND_CREATED: ChangeKind
CHANGE_KIND_STATUS: ChangeKind
CHANGE_KIND_PROGRESS: ChangeKind
CHANGE_KIND_OUTPUTS: ChangeKind
CHANGE_KIND_CANCEL_REQUEST: ChangeKind
CHANGE_KIND_STEP: ChangeKind
CHANGE_KIND_DELETED: ChangeKind
CHANGE_KIND_TIMES: ChangeKind

class Step(_message.Message):
    __slots__ = ("name", "status", "start_time", "end_time", "commit_id", "repository_url", "repository_branch", "requirements_path", "origin")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_URL_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_BRANCH_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_PATH_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: _status_pb2.RunningStatus
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    commit_id: str
    repository_url: str
    repository_branch: str
    requirements_path: str
    origin: StepOrigin
    def __init__(self, name: _Optional[str] = ..., status: _Optional[_Union[_status_pb2.RunningStatus, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., commit_id: _Optional[str] = ..., repository_url: _Optional[str] = ..., repository_branch: _Optional[str] = ..., requirements_path: _Optional[str] = ..., origin: _Optional[_Union[StepOrigin, str]] = ...) -> None: ...

class Execution(_message.Message):
    __slots__ = ("execution_id", "deployment_name", "pipeline_name", "job_name", "job_type", "experiment_name", "model_run_id", "job_status", "steps", "inputs", "outputs", "result", "export_paths", "source_views", "labels", "created_by", "heartbeat_timeout", "command", "trace_parent")
    class ExportPathsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class SourceViewsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_STATUS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    EXPORT_PATHS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_VIEWS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    TRACE_PARENT_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    deployment_name: str
    pipeline_name: str
    job_name: str
    job_type: JobType
    experiment_name: str
    model_run_id: str
    job_status: _status_pb2.JobStatus
    steps: _containers.RepeatedCompositeFieldContainer[Step]
    inputs: _containers.RepeatedCompositeFieldContainer[_io_pb2.ExecutionInput]
    outputs: _containers.RepeatedCompositeFieldContainer[_io_pb2.ExecutionOutput]
    result: _struct_pb2.Struct
    export_paths: _containers.ScalarMap[str, str]
    source_views: _containers.ScalarMap[str, str]
    labels: _containers.ScalarMap[str, str]
    created_by: str
    heartbeat_timeout: _duration_pb2.Duration
    command: _containers.RepeatedScalarFieldContainer[str]
    trace_parent: str
    def __init__(self, execution_id: _Optional[str] = ..., deployment_name: _Optional[str] = ..., pipeline_name: _Optional[str] = ..., job_name: _Optional[str] = ..., job_type: _Optional[_Union[JobType, str]] = ..., experiment_name: _Optional[str] = ..., model_run_id: _Optional[str] = ..., job_status: _Optional[_Union[_status_pb2.JobStatus, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[Step, _Mapping]]] = ..., inputs: _Optional[_Iterable[_Union[_io_pb2.ExecutionInput, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[_io_pb2.ExecutionOutput, _Mapping]]] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., export_paths: _Optional[_Mapping[str, str]] = ..., source_views: _Optional[_Mapping[str, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., created_by: _Optional[str] = ..., heartbeat_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., command: _Optional[_Iterable[str]] = ..., trace_parent: _Optional[str] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ("seq", "timestamp", "stream", "message", "step_name", "execution_id")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STEP_NAME_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    seq: int
    timestamp: _timestamp_pb2.Timestamp
    stream: LogStream
    message: str
    step_name: str
    execution_id: str
    def __init__(self, seq: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stream: _Optional[_Union[LogStream, str]] = ..., message: _Optional[str] = ..., step_name: _Optional[str] = ..., execution_id: _Optional[str] = ...) -> None: ...

class ExecutionEvent(_message.Message):
    __slots__ = ("execution_id", "deployment_name", "revision", "job_status", "changes", "resume_token", "snapshot")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    JOB_STATUS_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    deployment_name: str
    revision: int
    job_status: _status_pb2.JobStatus
    changes: _containers.RepeatedScalarFieldContainer[ChangeKind]
    resume_token: str
    snapshot: bool
    def __init__(self, execution_id: _Optional[str] = ..., deployment_name: _Optional[str] = ..., revision: _Optional[int] = ..., job_status: _Optional[_Union[_status_pb2.JobStatus, _Mapping]] = ..., changes: _Optional[_Iterable[_Union[ChangeKind, str]]] = ..., resume_token: _Optional[str] = ..., snapshot: _Optional[bool] = ...) -> None: ...
