import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunningStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUNNING_STATUS_UNSPECIFIED: _ClassVar[RunningStatus]
    RUNNING_STATUS_WAITING: _ClassVar[RunningStatus]
    RUNNING_STATUS_RUNNING: _ClassVar[RunningStatus]
    RUNNING_STATUS_SUCCESS: _ClassVar[RunningStatus]
    RUNNING_STATUS_ERROR: _ClassVar[RunningStatus]
    RUNNING_STATUS_CANCELED: _ClassVar[RunningStatus]
    RUNNING_STATUS_SUSPENDED: _ClassVar[RunningStatus]
    RUNNING_STATUS_CANCEL_REQUESTED: _ClassVar[RunningStatus]
    RUNNING_STATUS_UNKNOWN: _ClassVar[RunningStatus]
RUNNING_STATUS_UNSPECIFIED: RunningStatus
RUNNING_STATUS_WAITING: RunningStatus
RUNNING_STATUS_RUNNING: RunningStatus
RUNNING_STATUS_SUCCESS: RunningStatus
RUNNING_STATUS_ERROR: RunningStatus
RUNNING_STATUS_CANCELED: RunningStatus
RUNNING_STATUS_SUSPENDED: RunningStatus
RUNNING_STATUS_CANCEL_REQUESTED: RunningStatus
RUNNING_STATUS_UNKNOWN: RunningStatus

class JobStatus(_message.Message):
    __slots__ = ("status", "progress", "phase", "stop_message", "create_time", "start_time", "end_time", "duration", "update_time", "revision", "cancel_reason", "last_heartbeat_time", "lease_expire_time")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    STOP_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REASON_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_TIME_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    status: RunningStatus
    progress: float
    phase: str
    stop_message: str
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    update_time: _timestamp_pb2.Timestamp
    revision: int
    cancel_reason: str
    last_heartbeat_time: _timestamp_pb2.Timestamp
    lease_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, status: _Optional[_Union[RunningStatus, str]] = ..., progress: _Optional[float] = ..., phase: _Optional[str] = ..., stop_message: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revision: _Optional[int] = ..., cancel_reason: _Optional[str] = ..., last_heartbeat_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
