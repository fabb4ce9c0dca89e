import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tracking.v1 import auth_pb2 as _auth_pb2
from tracking.v1 import deployment_pb2 as _deployment_pb2
from tracking.v1 import execution_pb2 as _execution_pb2
from tracking.v1 import io_pb2 as _io_pb2
from tracking.v1 import metric_pb2 as _metric_pb2
from tracking.v1 import status_pb2 as _status_pb2
from tracking.v1 import subscription_pb2 as _subscription_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateTokenRequest(_message.Message):
    __slots__ = ("name", "role")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: _auth_pb2.Role
    def __init__(self, name: _Optional[str] = ..., role: _Optional[_Union[_auth_pb2.Role, str]] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token", "secret")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    token: _auth_pb2.ApiToken
    secret: str
    def __init__(self, token: _Optional[_Union[_auth_pb2.ApiToken, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ("include_revoked",)
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    include_revoked: bool
    def __init__(self, include_revoked: _Optional[bool] = ...) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[_auth_pb2.ApiToken]
    def __init__(self, tokens: _Optional[_Iterable[_Union[_auth_pb2.ApiToken, _Mapping]]] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("token_id",)
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    def __init__(self, token_id: _Optional[str] = ...) -> None: ...

class RevokeTokenResponse(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: _auth_pb2.ApiToken
    def __init__(self, token: _Optional[_Union[_auth_pb2.ApiToken, _Mapping]] = ...) -> None: ...

class CreateSubscriptionRequest(_message.Message):
    __slots__ = ("subscription", "request_id")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    subscription: _subscription_pb2.Subscription
    request_id: str
    def __init__(self, subscription: _Optional[_Union[_subscription_pb2.Subscription, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateSubscriptionResponse(_message.Message):
    __slots__ = ("subscription", "secret")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    subscription: _subscription_pb2.Subscription
    secret: str
    def __init__(self, subscription: _Optional[_Union[_subscription_pb2.Subscription, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class GetSubscriptionRequest(_message.Message):
    __slots__ = ("subscription_id",)
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    def __init__(self, subscription_id: _Optional[str] = ...) -> None: ...

class GetSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: _subscription_pb2.Subscription
    def __init__(self, subscription: _Optional[_Union[_subscription_pb2.Subscription, _Mapping]] = ...) -> None: ...

class ListSubscriptionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSubscriptionsResponse(_message.Message):
    __slots__ = ("subscriptions",)
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[_subscription_pb2.Subscription]
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[_subscription_pb2.Subscription, _Mapping]]] = ...) -> None: ...

class DeleteSubscriptionRequest(_message.Message):
    __slots__ = ("subscription_id",)
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    def __init__(self, subscription_id: _Optional[str] = ...) -> None: ...

class DeleteSubscriptionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PauseSubscriptionRequest(_message.Message):
    __slots__ = ("subscription_id",)
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    def __init__(self, subscription_id: _Optional[str] = ...) -> None: ...

class PauseSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: _subscription_pb2.Subscription
    def __init__(self, subscription: _Optional[_Union[_subscription_pb2.Subscription, _Mapping]] = ...) -> None: ...

class ResumeSubscriptionRequest(_message.Message):
    __slots__ = ("subscription_id",)
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    def __init__(self, subscription_id: _Optional[str] = ...) -> None: ...

class ResumeSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: _subscription_pb2.Subscription
    def __init__(self, subscription: _Optional[_Union[_subscription_pb2.Subscription, _Mapping]] = ...) -> None: ...

class ListDeliveriesRequest(_message.Message):
    __slots__ = ("subscription_id", "page_size")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    page_size: int
    def __init__(self, subscription_id: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries",)
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[_subscription_pb2.Delivery]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[_subscription_pb2.Delivery, _Mapping]]] = ...) -> None: ...

class TestSubscriptionRequest(_message.Message):
    __slots__ = ("subscription_id",)
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    def __init__(self, subscription_id: _Optional[str] = ...) -> None: ...

class TestSubscriptionResponse(_message.Message):
    __slots__ = ("delivery",)
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    delivery: _subscription_pb2.Delivery
    def __init__(self, delivery: _Optional[_Union[_subscription_pb2.Delivery, _Mapping]] = ...) -> None: ...

class CreateDeploymentRequest(_message.Message):
    __slots__ = ("deployment",)
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    deployment: _deployment_pb2.Deployment
    def __init__(self, deployment: _Optional[_Union[_deployment_pb2.Deployment, _Mapping]] = ...) -> None: ...

class CreateDeploymentResponse(_message.Message):
    __slots__ = ("deployment",)
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    deployment: _deployment_pb2.Deployment
    def __init__(self, deployment: _Optional[_Union[_deployment_pb2.Deployment, _Mapping]] = ...) -> None: ...

class GetDeploymentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetDeploymentResponse(_message.Message):
    __slots__ = ("deployment",)
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    deployment: _deployment_pb2.Deployment
    def __init__(self, deployment: _Optional[_Union[_deployment_pb2.Deployment, _Mapping]] = ...) -> None: ...

class ListDeploymentsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class ListDeploymentsResponse(_message.Message):
    __slots__ = ("deployments", "next_page_token")
    DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    deployments: _containers.RepeatedCompositeFieldContainer[_deployment_pb2.Deployment]
    next_page_token: str
    def __init__(self, deployments: _Optional[_Iterable[_Union[_deployment_pb2.Deployment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateDeploymentRequest(_message.Message):
    __slots__ = ("deployment", "update_mask")
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    deployment: _deployment_pb2.Deployment
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, deployment: _Optional[_Union[_deployment_pb2.Deployment, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateDeploymentResponse(_message.Message):
    __slots__ = ("deployment",)
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    deployment: _deployment_pb2.Deployment
    def __init__(self, deployment: _Optional[_Union[_deployment_pb2.Deployment, _Mapping]] = ...) -> None: ...

class DeleteDeploymentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteDeploymentResponse(_message.Message):
    __slots__ = ("name", "execution_rule", "deleted_execution_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_RULE_FIELD_NUMBER: _ClassVar[int]
    DELETED_EXECUTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    execution_rule: _deployment_pb2.ExecutionRule
    deleted_execution_count: int
    def __init__(self, name: _Optional[str] = ..., execution_rule: _Optional[_Union[_deployment_pb2.ExecutionRule, str]] = ..., deleted_execution_count: _Optional[int] = ...) -> None: ...

class CreateExecutionRequest(_message.Message):
    __slots__ = ("execution", "request_id")
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    execution: _execution_pb2.Execution
    request_id: str
    def __init__(self, execution: _Optional[_Union[_execution_pb2.Execution, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: _execution_pb2.Execution
    def __init__(self, execution: _Optional[_Union[_execution_pb2.Execution, _Mapping]] = ...) -> None: ...

class GetExecutionRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class GetExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: _execution_pb2.Execution
    def __init__(self, execution: _Optional[_Union[_execution_pb2.Execution, _Mapping]] = ...) -> None: ...

class ListExecutionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class ListExecutionsResponse(_message.Message):
    __slots__ = ("executions", "next_page_token")
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[_execution_pb2.Execution]
    next_page_token: str
    def __init__(self, executions: _Optional[_Iterable[_Union[_execution_pb2.Execution, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteExecutionRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class DeleteExecutionResponse(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class GetExecutionInputRequest(_message.Message):
    __slots__ = ("execution_id", "input_name")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_NAME_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    input_name: str
    def __init__(self, execution_id: _Optional[str] = ..., input_name: _Optional[str] = ...) -> None: ...

class GetExecutionInputResponse(_message.Message):
    __slots__ = ("input",)
    INPUT_FIELD_NUMBER: _ClassVar[int]
    input: _io_pb2.ExecutionInput
    def __init__(self, input: _Optional[_Union[_io_pb2.ExecutionInput, _Mapping]] = ...) -> None: ...

class GetExecutionOutputRequest(_message.Message):
    __slots__ = ("execution_id", "output_name")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_NAME_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    output_name: str
    def __init__(self, execution_id: _Optional[str] = ..., output_name: _Optional[str] = ...) -> None: ...

class GetExecutionOutputResponse(_message.Message):
    __slots__ = ("output",)
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    output: _io_pb2.ExecutionOutput
    def __init__(self, output: _Optional[_Union[_io_pb2.ExecutionOutput, _Mapping]] = ...) -> None: ...

class GetJobStatusRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class GetJobStatusResponse(_message.Message):
    __slots__ = ("job_status",)
    JOB_STATUS_FIELD_NUMBER: _ClassVar[int]
    job_status: _status_pb2.JobStatus
    def __init__(self, job_status: _Optional[_Union[_status_pb2.JobStatus, _Mapping]] = ...) -> None: ...

class UpdateJobStatusRequest(_message.Message):
    __slots__ = ("execution_id", "start", "progress", "suspend", "resume", "stop", "heartbeat", "times", "expected_revision")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    SUSPEND_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    start: StartAction
    progress: ProgressAction
    suspend: SuspendAction
    resume: ResumeAction
    stop: StopAction
    heartbeat: HeartbeatAction
    times: TimesAction
    expected_revision: int
    def __init__(self, execution_id: _Optional[str] = ..., start: _Optional[_Union[StartAction, _Mapping]] = ..., progress: _Optional[_Union[ProgressAction, _Mapping]] = ..., suspend: _Optional[_Union[SuspendAction, _Mapping]] = ..., resume: _Optional[_Union[ResumeAction, _Mapping]] = ..., stop: _Optional[_Union[StopAction, _Mapping]] = ..., heartbeat: _Optional[_Union[HeartbeatAction, _Mapping]] = ..., times: _Optional[_Union[TimesAction, _Mapping]] = ..., expected_revision: _Optional[int] = ...) -> None: ...

class StartAction(_message.Message):
    __slots__ = ("phase", "heartbeat_timeout")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    phase: str
    heartbeat_timeout: _duration_pb2.Duration
    def __init__(self, phase: _Optional[str] = ..., heartbeat_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class HeartbeatAction(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TimesAction(_message.Message):
    __slots__ = ("create_time", "start_time", "duration")
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    def __init__(self, create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ProgressAction(_message.Message):
    __slots__ = ("progress", "phase")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    progress: float
    phase: str
    def __init__(self, progress: _Optional[float] = ..., phase: _Optional[str] = ...) -> None: ...

class SuspendAction(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class ResumeAction(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StopAction(_message.Message):
    __slots__ = ("cause", "message")
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    cause: _status_pb2.RunningStatus
    message: str
    def __init__(self, cause: _Optional[_Union[_status_pb2.RunningStatus, str]] = ..., message: _Optional[str] = ...) -> None: ...

class UpdateJobStatusResponse(_message.Message):
    __slots__ = ("job_status",)
    JOB_STATUS_FIELD_NUMBER: _ClassVar[int]
    job_status: _status_pb2.JobStatus
    def __init__(self, job_status: _Optional[_Union[_status_pb2.JobStatus, _Mapping]] = ...) -> None: ...

class CancelExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "reason")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    reason: str
    def __init__(self, execution_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelExecutionResponse(_message.Message):
    __slots__ = ("job_status",)
    JOB_STATUS_FIELD_NUMBER: _ClassVar[int]
    job_status: _status_pb2.JobStatus
    def __init__(self, job_status: _Optional[_Union[_status_pb2.JobStatus, _Mapping]] = ...) -> None: ...

class SetExecutionOutputsRequest(_message.Message):
    __slots__ = ("execution_id", "outputs", "result", "export_paths", "source_views")
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
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    EXPORT_PATHS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_VIEWS_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    outputs: _containers.RepeatedCompositeFieldContainer[_io_pb2.ExecutionOutput]
    result: _struct_pb2.Struct
    export_paths: _containers.ScalarMap[str, str]
    source_views: _containers.ScalarMap[str, str]
    def __init__(self, execution_id: _Optional[str] = ..., outputs: _Optional[_Iterable[_Union[_io_pb2.ExecutionOutput, _Mapping]]] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., export_paths: _Optional[_Mapping[str, str]] = ..., source_views: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SetExecutionOutputsResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: _execution_pb2.Execution
    def __init__(self, execution: _Optional[_Union[_execution_pb2.Execution, _Mapping]] = ...) -> None: ...

class UpdateStepRequest(_message.Message):
    __slots__ = ("execution_id", "step")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    step: _execution_pb2.Step
    def __init__(self, execution_id: _Optional[str] = ..., step: _Optional[_Union[_execution_pb2.Step, _Mapping]] = ...) -> None: ...

class UpdateStepResponse(_message.Message):
    __slots__ = ("step", "revision")
    STEP_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    step: _execution_pb2.Step
    revision: int
    def __init__(self, step: _Optional[_Union[_execution_pb2.Step, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class AppendLogsRequest(_message.Message):
    __slots__ = ("execution_id", "entries")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    entries: _containers.RepeatedCompositeFieldContainer[_execution_pb2.LogEntry]
    def __init__(self, execution_id: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[_execution_pb2.LogEntry, _Mapping]]] = ...) -> None: ...

class AppendLogsResponse(_message.Message):
    __slots__ = ("last_seq",)
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    last_seq: int
    def __init__(self, last_seq: _Optional[int] = ...) -> None: ...

class GetExecutionLogsRequest(_message.Message):
    __slots__ = ("execution_id", "from_time", "to_time", "limit", "stream", "after_seq", "contains", "pattern")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_TIME_FIELD_NUMBER: _ClassVar[int]
    TO_TIME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    CONTAINS_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    from_time: _timestamp_pb2.Timestamp
    to_time: _timestamp_pb2.Timestamp
    limit: int
    stream: _execution_pb2.LogStream
    after_seq: int
    contains: str
    pattern: str
    def __init__(self, execution_id: _Optional[str] = ..., from_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., to_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ..., stream: _Optional[_Union[_execution_pb2.LogStream, str]] = ..., after_seq: _Optional[int] = ..., contains: _Optional[str] = ..., pattern: _Optional[str] = ...) -> None: ...

class GetExecutionLogsResponse(_message.Message):
    __slots__ = ("entries", "truncated", "scanned_to_seq")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    SCANNED_TO_SEQ_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_execution_pb2.LogEntry]
    truncated: bool
    scanned_to_seq: int
    def __init__(self, entries: _Optional[_Iterable[_Union[_execution_pb2.LogEntry, _Mapping]]] = ..., truncated: _Optional[bool] = ..., scanned_to_seq: _Optional[int] = ...) -> None: ...

class WatchStatusRequest(_message.Message):
    __slots__ = ("execution_id", "deployment_name", "after_revision", "resume_token")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    AFTER_REVISION_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    deployment_name: str
    after_revision: int
    resume_token: str
    def __init__(self, execution_id: _Optional[str] = ..., deployment_name: _Optional[str] = ..., after_revision: _Optional[int] = ..., resume_token: _Optional[str] = ...) -> None: ...

class WatchStatusResponse(_message.Message):
    __slots__ = ("event", "heartbeat")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    event: _execution_pb2.ExecutionEvent
    heartbeat: Heartbeat
    def __init__(self, event: _Optional[_Union[_execution_pb2.ExecutionEvent, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("time",)
    TIME_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StreamLogsRequest(_message.Message):
    __slots__ = ("execution_id", "after_seq", "since", "tail", "stream", "follow", "deployment_name", "contains", "pattern", "resume_token")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTAINS_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    after_seq: int
    since: _timestamp_pb2.Timestamp
    tail: int
    stream: _execution_pb2.LogStream
    follow: bool
    deployment_name: str
    contains: str
    pattern: str
    resume_token: str
    def __init__(self, execution_id: _Optional[str] = ..., after_seq: _Optional[int] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tail: _Optional[int] = ..., stream: _Optional[_Union[_execution_pb2.LogStream, str]] = ..., follow: _Optional[bool] = ..., deployment_name: _Optional[str] = ..., contains: _Optional[str] = ..., pattern: _Optional[str] = ..., resume_token: _Optional[str] = ...) -> None: ...

class StreamLogsResponse(_message.Message):
    __slots__ = ("entries", "heartbeat", "resume_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_execution_pb2.LogEntry]
    heartbeat: Heartbeat
    resume_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[_execution_pb2.LogEntry, _Mapping]]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., resume_token: _Optional[str] = ...) -> None: ...

class LogMetricsRequest(_message.Message):
    __slots__ = ("execution_id", "points")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    points: _containers.RepeatedCompositeFieldContainer[_metric_pb2.MetricPoint]
    def __init__(self, execution_id: _Optional[str] = ..., points: _Optional[_Iterable[_Union[_metric_pb2.MetricPoint, _Mapping]]] = ...) -> None: ...

class LogMetricsResponse(_message.Message):
    __slots__ = ("last_seq",)
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    last_seq: int
    def __init__(self, last_seq: _Optional[int] = ...) -> None: ...

class ListMetricsRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class ListMetricsResponse(_message.Message):
    __slots__ = ("series", "last_seq")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[_metric_pb2.MetricSeries]
    last_seq: int
    def __init__(self, series: _Optional[_Iterable[_Union[_metric_pb2.MetricSeries, _Mapping]]] = ..., last_seq: _Optional[int] = ...) -> None: ...

class GetMetricHistoryRequest(_message.Message):
    __slots__ = ("execution_ids", "name", "start_step", "end_step", "max_points", "exact", "page_token")
    EXECUTION_IDS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_STEP_FIELD_NUMBER: _ClassVar[int]
    END_STEP_FIELD_NUMBER: _ClassVar[int]
    MAX_POINTS_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    execution_ids: _containers.RepeatedScalarFieldContainer[str]
    name: str
    start_step: int
    end_step: int
    max_points: int
    exact: bool
    page_token: str
    def __init__(self, execution_ids: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., start_step: _Optional[int] = ..., end_step: _Optional[int] = ..., max_points: _Optional[int] = ..., exact: _Optional[bool] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetMetricHistoryResponse(_message.Message):
    __slots__ = ("histories", "next_page_token")
    HISTORIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    histories: _containers.RepeatedCompositeFieldContainer[_metric_pb2.MetricHistory]
    next_page_token: str
    def __init__(self, histories: _Optional[_Iterable[_Union[_metric_pb2.MetricHistory, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StreamMetricsRequest(_message.Message):
    __slots__ = ("execution_id", "after_seq", "names", "follow")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    after_seq: int
    names: _containers.RepeatedScalarFieldContainer[str]
    follow: bool
    def __init__(self, execution_id: _Optional[str] = ..., after_seq: _Optional[int] = ..., names: _Optional[_Iterable[str]] = ..., follow: _Optional[bool] = ...) -> None: ...

class StreamMetricsResponse(_message.Message):
    __slots__ = ("points", "heartbeat")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_metric_pb2.MetricPoint]
    heartbeat: Heartbeat
    def __init__(self, points: _Optional[_Iterable[_Union[_metric_pb2.MetricPoint, _Mapping]]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class GetServiceInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetServiceInfoResponse(_message.Message):
    __slots__ = ("version", "max_log_line_chars", "max_log_batch_lines", "max_message_bytes", "default_heartbeat_timeout", "max_metric_batch_points", "max_metric_history_executions")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_LOG_LINE_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_LOG_BATCH_LINES_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_HEARTBEAT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_METRIC_BATCH_POINTS_FIELD_NUMBER: _ClassVar[int]
    MAX_METRIC_HISTORY_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    version: str
    max_log_line_chars: int
    max_log_batch_lines: int
    max_message_bytes: int
    default_heartbeat_timeout: _duration_pb2.Duration
    max_metric_batch_points: int
    max_metric_history_executions: int
    def __init__(self, version: _Optional[str] = ..., max_log_line_chars: _Optional[int] = ..., max_log_batch_lines: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., default_heartbeat_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_metric_batch_points: _Optional[int] = ..., max_metric_history_executions: _Optional[int] = ...) -> None: ...
