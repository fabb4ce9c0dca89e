import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tracking.v1 import io_pb2 as _io_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExecutionRule(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_RULE_UNSPECIFIED: _ClassVar[ExecutionRule]
    EXECUTION_RULE_ENDPOINT: _ClassVar[ExecutionRule]
    EXECUTION_RULE_PERIODIC: _ClassVar[ExecutionRule]

class DeploymentMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEPLOYMENT_MODE_UNSPECIFIED: _ClassVar[DeploymentMode]
    DEPLOYMENT_MODE_ELASTIC: _ClassVar[DeploymentMode]
    DEPLOYMENT_MODE_LOW_LATENCY: _ClassVar[DeploymentMode]

class DeploymentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEPLOYMENT_STATUS_UNSPECIFIED: _ClassVar[DeploymentStatus]
    DEPLOYMENT_STATUS_PENDING: _ClassVar[DeploymentStatus]
    DEPLOYMENT_STATUS_UP: _ClassVar[DeploymentStatus]
    DEPLOYMENT_STATUS_FAILED: _ClassVar[DeploymentStatus]
    DEPLOYMENT_STATUS_STANDBY: _ClassVar[DeploymentStatus]
EXECUTION_RULE_UNSPECIFIED: ExecutionRule
EXECUTION_RULE_ENDPOINT: ExecutionRule
EXECUTION_RULE_PERIODIC: ExecutionRule
DEPLOYMENT_MODE_UNSPECIFIED: DeploymentMode
DEPLOYMENT_MODE_ELASTIC: DeploymentMode
DEPLOYMENT_MODE_LOW_LATENCY: DeploymentMode
DEPLOYMENT_STATUS_UNSPECIFIED: DeploymentStatus
DEPLOYMENT_STATUS_PENDING: DeploymentStatus
DEPLOYMENT_STATUS_UP: DeploymentStatus
DEPLOYMENT_STATUS_FAILED: DeploymentStatus
DEPLOYMENT_STATUS_STANDBY: DeploymentStatus

class Pod(_message.Message):
    __slots__ = ("pod_id", "status")
    POD_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    pod_id: str
    status: str
    def __init__(self, pod_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class Deployment(_message.Message):
    __slots__ = ("name", "pipeline_name", "description", "execution_rule", "mode", "schedule", "human_readable_schedule", "next_run_time", "inputs_mapping", "outputs_mapping", "status", "is_enabled", "pods", "labels", "create_time", "created_by", "update_time", "updated_by", "last_execution_id", "endpoint_token")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_RULE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    HUMAN_READABLE_SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    NEXT_RUN_TIME_FIELD_NUMBER: _ClassVar[int]
    INPUTS_MAPPING_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_MAPPING_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    IS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    PODS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    LAST_EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    pipeline_name: str
    description: str
    execution_rule: ExecutionRule
    mode: DeploymentMode
    schedule: str
    human_readable_schedule: str
    next_run_time: _timestamp_pb2.Timestamp
    inputs_mapping: _containers.RepeatedCompositeFieldContainer[_io_pb2.InputMapping]
    outputs_mapping: _containers.RepeatedCompositeFieldContainer[_io_pb2.OutputMapping]
    status: DeploymentStatus
    is_enabled: bool
    pods: _containers.RepeatedCompositeFieldContainer[Pod]
    labels: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    created_by: str
    update_time: _timestamp_pb2.Timestamp
    updated_by: str
    last_execution_id: str
    endpoint_token: str
    def __init__(self, name: _Optional[str] = ..., pipeline_name: _Optional[str] = ..., description: _Optional[str] = ..., execution_rule: _Optional[_Union[ExecutionRule, str]] = ..., mode: _Optional[_Union[DeploymentMode, str]] = ..., schedule: _Optional[str] = ..., human_readable_schedule: _Optional[str] = ..., next_run_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., inputs_mapping: _Optional[_Iterable[_Union[_io_pb2.InputMapping, _Mapping]]] = ..., outputs_mapping: _Optional[_Iterable[_Union[_io_pb2.OutputMapping, _Mapping]]] = ..., status: _Optional[_Union[DeploymentStatus, str]] = ..., is_enabled: _Optional[bool] = ..., pods: _Optional[_Iterable[_Union[Pod, _Mapping]]] = ..., labels: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ..., last_execution_id: _Optional[str] = ..., endpoint_token: _Optional[str] = ...) -> None: ...
