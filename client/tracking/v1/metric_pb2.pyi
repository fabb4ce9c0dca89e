import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MetricPoint(_message.Message):
    __slots__ = ("name", "value", "step", "time", "seq")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    step: int
    time: _timestamp_pb2.Timestamp
    seq: int
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., step: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., seq: _Optional[int] = ...) -> None: ...

class MetricSeries(_message.Message):
    __slots__ = ("name", "count", "first_step", "last_step", "last_value", "min_value", "max_value", "last_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_STEP_FIELD_NUMBER: _ClassVar[int]
    LAST_STEP_FIELD_NUMBER: _ClassVar[int]
    LAST_VALUE_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    LAST_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    count: int
    first_step: int
    last_step: int
    last_value: float
    min_value: float
    max_value: float
    last_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., count: _Optional[int] = ..., first_step: _Optional[int] = ..., last_step: _Optional[int] = ..., last_value: _Optional[float] = ..., min_value: _Optional[float] = ..., max_value: _Optional[float] = ..., last_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MetricBucket(_message.Message):
    __slots__ = ("first_step", "last_step", "min_value", "max_value", "last_value", "count", "last_time")
    FIRST_STEP_FIELD_NUMBER: _ClassVar[int]
    LAST_STEP_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    LAST_VALUE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_TIME_FIELD_NUMBER: _ClassVar[int]
    first_step: int
    last_step: int
    min_value: float
    max_value: float
    last_value: float
    count: int
    last_time: _timestamp_pb2.Timestamp
    def __init__(self, first_step: _Optional[int] = ..., last_step: _Optional[int] = ..., min_value: _Optional[float] = ..., max_value: _Optional[float] = ..., last_value: _Optional[float] = ..., count: _Optional[int] = ..., last_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MetricHistory(_message.Message):
    __slots__ = ("execution_id", "points", "buckets", "count", "bucket_width", "through_seq")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_WIDTH_FIELD_NUMBER: _ClassVar[int]
    THROUGH_SEQ_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    points: _containers.RepeatedCompositeFieldContainer[MetricPoint]
    buckets: _containers.RepeatedCompositeFieldContainer[MetricBucket]
    count: int
    bucket_width: int
    through_seq: int
    def __init__(self, execution_id: _Optional[str] = ..., points: _Optional[_Iterable[_Union[MetricPoint, _Mapping]]] = ..., buckets: _Optional[_Iterable[_Union[MetricBucket, _Mapping]]] = ..., count: _Optional[int] = ..., bucket_width: _Optional[int] = ..., through_seq: _Optional[int] = ...) -> None: ...
