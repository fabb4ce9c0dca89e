import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tracking.v1 import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_KIND_UNSPECIFIED: _ClassVar[EventKind]
    EVENT_KIND_EXECUTION_CREATED: _ClassVar[EventKind]
    EVENT_KIND_EXECUTION_STATUS_CHANGED: _ClassVar[EventKind]
    EVENT_KIND_EXECUTION_UPDATED: _ClassVar[EventKind]
    EVENT_KIND_EXECUTION_DELETED: _ClassVar[EventKind]
    EVENT_KIND_DEPLOYMENT_CREATED: _ClassVar[EventKind]
    EVENT_KIND_DEPLOYMENT_UPDATED: _ClassVar[EventKind]
    EVENT_KIND_DEPLOYMENT_DELETED: _ClassVar[EventKind]

class SubscriptionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBSCRIPTION_STATE_UNSPECIFIED: _ClassVar[SubscriptionState]
    SUBSCRIPTION_STATE_ACTIVE: _ClassVar[SubscriptionState]
    SUBSCRIPTION_STATE_PAUSED: _ClassVar[SubscriptionState]
    SUBSCRIPTION_STATE_FAILING: _ClassVar[SubscriptionState]
EVENT_KIND_UNSPECIFIED: EventKind
EVENT_KIND_EXECUTION_CREATED: EventKind
EVENT_KIND_EXECUTION_STATUS_CHANGED: EventKind
EVENT_KIND_EXECUTION_UPDATED: EventKind
EVENT_KIND_EXECUTION_DELETED: EventKind
EVENT_KIND_DEPLOYMENT_CREATED: EventKind
EVENT_KIND_DEPLOYMENT_UPDATED: EventKind
EVENT_KIND_DEPLOYMENT_DELETED: EventKind
SUBSCRIPTION_STATE_UNSPECIFIED: SubscriptionState
SUBSCRIPTION_STATE_ACTIVE: SubscriptionState
SUBSCRIPTION_STATE_PAUSED: SubscriptionState
SUBSCRIPTION_STATE_FAILING: SubscriptionState

class SubscriptionFilter(_message.Message):
    __slots__ = ("deployment_names", "kinds", "statuses")
    DEPLOYMENT_NAMES_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    deployment_names: _containers.RepeatedScalarFieldContainer[str]
    kinds: _containers.RepeatedScalarFieldContainer[EventKind]
    statuses: _containers.RepeatedScalarFieldContainer[_status_pb2.RunningStatus]
    def __init__(self, deployment_names: _Optional[_Iterable[str]] = ..., kinds: _Optional[_Iterable[_Union[EventKind, str]]] = ..., statuses: _Optional[_Iterable[_Union[_status_pb2.RunningStatus, str]]] = ...) -> None: ...

class WebhookTarget(_message.Message):
    __slots__ = ("url",)
    URL_FIELD_NUMBER: _ClassVar[int]
    url: str
    def __init__(self, url: _Optional[str] = ...) -> None: ...

class NatsTarget(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    def __init__(self, subject: _Optional[str] = ...) -> None: ...

class Subscription(_message.Message):
    __slots__ = ("subscription_id", "name", "webhook", "nats", "filter", "state", "last_error", "last_error_time", "create_time", "created_by", "delivered_position", "last_delivery_time", "failing_since")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    NATS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_POSITION_FIELD_NUMBER: _ClassVar[int]
    LAST_DELIVERY_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILING_SINCE_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    name: str
    webhook: WebhookTarget
    nats: NatsTarget
    filter: SubscriptionFilter
    state: SubscriptionState
    last_error: str
    last_error_time: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    created_by: str
    delivered_position: int
    last_delivery_time: _timestamp_pb2.Timestamp
    failing_since: _timestamp_pb2.Timestamp
    def __init__(self, subscription_id: _Optional[str] = ..., name: _Optional[str] = ..., webhook: _Optional[_Union[WebhookTarget, _Mapping]] = ..., nats: _Optional[_Union[NatsTarget, _Mapping]] = ..., filter: _Optional[_Union[SubscriptionFilter, _Mapping]] = ..., state: _Optional[_Union[SubscriptionState, str]] = ..., last_error: _Optional[str] = ..., last_error_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., delivered_position: _Optional[int] = ..., last_delivery_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failing_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("event_id", "execution_id", "revision", "attempt_time", "attempt", "http_status", "latency", "succeeded", "error")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    execution_id: str
    revision: int
    attempt_time: _timestamp_pb2.Timestamp
    attempt: int
    http_status: int
    latency: _duration_pb2.Duration
    succeeded: bool
    error: str
    def __init__(self, event_id: _Optional[str] = ..., execution_id: _Optional[str] = ..., revision: _Optional[int] = ..., attempt_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempt: _Optional[int] = ..., http_status: _Optional[int] = ..., latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., succeeded: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...
