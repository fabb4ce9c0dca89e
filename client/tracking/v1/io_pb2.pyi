from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InputSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INPUT_SOURCE_UNSPECIFIED: _ClassVar[InputSource]
    INPUT_SOURCE_CONSTANT: _ClassVar[InputSource]
    INPUT_SOURCE_ENVIRONMENT_VARIABLE: _ClassVar[InputSource]
    INPUT_SOURCE_ENDPOINT: _ClassVar[InputSource]
    INPUT_SOURCE_DATASTORE: _ClassVar[InputSource]
    INPUT_SOURCE_IS_NULL: _ClassVar[InputSource]
    INPUT_SOURCE_RUN: _ClassVar[InputSource]

class OutputDestination(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTPUT_DESTINATION_UNSPECIFIED: _ClassVar[OutputDestination]
    OUTPUT_DESTINATION_DATASTORE: _ClassVar[OutputDestination]
    OUTPUT_DESTINATION_IS_NULL: _ClassVar[OutputDestination]
    OUTPUT_DESTINATION_ENDPOINT: _ClassVar[OutputDestination]
    OUTPUT_DESTINATION_RUN: _ClassVar[OutputDestination]
INPUT_SOURCE_UNSPECIFIED: InputSource
INPUT_SOURCE_CONSTANT: InputSource
INPUT_SOURCE_ENVIRONMENT_VARIABLE: InputSource
INPUT_SOURCE_ENDPOINT: InputSource
INPUT_SOURCE_DATASTORE: InputSource
INPUT_SOURCE_IS_NULL: InputSource
INPUT_SOURCE_RUN: InputSource
OUTPUT_DESTINATION_UNSPECIFIED: OutputDestination
OUTPUT_DESTINATION_DATASTORE: OutputDestination
OUTPUT_DESTINATION_IS_NULL: OutputDestination
OUTPUT_DESTINATION_ENDPOINT: OutputDestination
OUTPUT_DESTINATION_RUN: OutputDestination

class InputMapping(_message.Message):
    __slots__ = ("pipeline_input_name", "data_type", "description", "source", "constant_value", "environment_variable_name", "endpoint_input_name", "is_null", "datastore_path", "is_required", "default_value")
    PIPELINE_INPUT_NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CONSTANT_VALUE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_VARIABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_INPUT_NAME_FIELD_NUMBER: _ClassVar[int]
    IS_NULL_FIELD_NUMBER: _ClassVar[int]
    DATASTORE_PATH_FIELD_NUMBER: _ClassVar[int]
    IS_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    pipeline_input_name: str
    data_type: str
    description: str
    source: InputSource
    constant_value: str
    environment_variable_name: str
    endpoint_input_name: str
    is_null: bool
    datastore_path: str
    is_required: bool
    default_value: str
    def __init__(self, pipeline_input_name: _Optional[str] = ..., data_type: _Optional[str] = ..., description: _Optional[str] = ..., source: _Optional[_Union[InputSource, str]] = ..., constant_value: _Optional[str] = ..., environment_variable_name: _Optional[str] = ..., endpoint_input_name: _Optional[str] = ..., is_null: _Optional[bool] = ..., datastore_path: _Optional[str] = ..., is_required: _Optional[bool] = ..., default_value: _Optional[str] = ...) -> None: ...

class OutputMapping(_message.Message):
    __slots__ = ("pipeline_output_name", "data_type", "description", "destination", "endpoint_output_name", "is_null", "datastore_path")
    PIPELINE_OUTPUT_NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_OUTPUT_NAME_FIELD_NUMBER: _ClassVar[int]
    IS_NULL_FIELD_NUMBER: _ClassVar[int]
    DATASTORE_PATH_FIELD_NUMBER: _ClassVar[int]
    pipeline_output_name: str
    data_type: str
    description: str
    destination: OutputDestination
    endpoint_output_name: str
    is_null: bool
    datastore_path: str
    def __init__(self, pipeline_output_name: _Optional[str] = ..., data_type: _Optional[str] = ..., description: _Optional[str] = ..., destination: _Optional[_Union[OutputDestination, str]] = ..., endpoint_output_name: _Optional[str] = ..., is_null: _Optional[bool] = ..., datastore_path: _Optional[str] = ...) -> None: ...

class ExecutionInput(_message.Message):
    __slots__ = ("name", "data_type", "source", "endpoint_input_name", "constant_value", "environment_variable_name", "is_null", "datastore_path", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_INPUT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONSTANT_VALUE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_VARIABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    IS_NULL_FIELD_NUMBER: _ClassVar[int]
    DATASTORE_PATH_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    data_type: str
    source: InputSource
    endpoint_input_name: str
    constant_value: str
    environment_variable_name: str
    is_null: bool
    datastore_path: str
    value: _struct_pb2.Value
    def __init__(self, name: _Optional[str] = ..., data_type: _Optional[str] = ..., source: _Optional[_Union[InputSource, str]] = ..., endpoint_input_name: _Optional[str] = ..., constant_value: _Optional[str] = ..., environment_variable_name: _Optional[str] = ..., is_null: _Optional[bool] = ..., datastore_path: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class ExecutionOutput(_message.Message):
    __slots__ = ("name", "data_type", "destination", "endpoint_output_name", "is_null", "datastore_path", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_OUTPUT_NAME_FIELD_NUMBER: _ClassVar[int]
    IS_NULL_FIELD_NUMBER: _ClassVar[int]
    DATASTORE_PATH_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    data_type: str
    destination: OutputDestination
    endpoint_output_name: str
    is_null: bool
    datastore_path: str
    value: _struct_pb2.Value
    def __init__(self, name: _Optional[str] = ..., data_type: _Optional[str] = ..., destination: _Optional[_Union[OutputDestination, str]] = ..., endpoint_output_name: _Optional[str] = ..., is_null: _Optional[bool] = ..., datastore_path: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
