"""Conversions between friendly Python values and protobuf values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message

from .enum_names import prefix_of

E = TypeVar("E", bound=int)

EnumArg = int | str
"""An enum value: the proto number, or its name, short ("RUNNING") or full, any case."""


def enum_value(enum_type: type[E], value: EnumArg) -> E:
    """Return the number of `value` in `enum_type` (a generated enum, e.g. RunningStatus).

    Raises ValueError for a name or a number the enum does not define.
    """
    wrapper = cast(EnumTypeWrapper, enum_type)
    descriptor = wrapper.DESCRIPTOR
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"{descriptor.name} value must be an int or a str, not {value!r}")
    if isinstance(value, int):
        if value not in descriptor.values_by_number:
            raise ValueError(f"{value} is not a {descriptor.name} value")
        return cast(E, value)
    name = value.strip().upper().replace("-", "_").replace(" ", "_")
    prefix = prefix_of(descriptor)
    for candidate in (name, prefix + name):
        found = descriptor.values_by_name.get(candidate)
        if found is not None:
            return cast(E, found.number)
    allowed = ", ".join(n.removeprefix(prefix) for n in descriptor.values_by_name)
    raise ValueError(f"{value!r} is not a {descriptor.name} value (one of: {allowed})")


def to_timestamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    """Convert a datetime to a Timestamp; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def optional_timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    """Like to_timestamp, passing None through (an unset field)."""
    return None if value is None else to_timestamp(value)


def optional_duration(value: dt.timedelta | float | None) -> duration_pb2.Duration | None:
    """A timedelta (or a number of seconds) as a Duration, passing None through (an unset
    field)."""
    if value is None:
        return None
    duration = duration_pb2.Duration()
    if isinstance(value, dt.timedelta):
        duration.FromTimedelta(value)
    else:
        duration.FromNanoseconds(round(value * 1e9))
    return duration


def to_struct(value: Mapping[str, Any] | struct_pb2.Struct) -> struct_pb2.Struct:
    """Convert a JSON-like dict to a Struct (a Struct is returned as is)."""
    if isinstance(value, struct_pb2.Struct):
        return value
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


# A JSON number is a double in a Struct: every integer up to 2**53 is one exactly.
_EXACT = 2**53
_JSON_TYPES = frozenset(
    {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}
)


def whole_numbers(value: Any) -> Any:
    """`value` with each float that holds a whole number within a double's exact range
    (±2**53) made an int, in every dict and list: 4.0 -> 4, 0.5 and 1e300 stay."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT:
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct (a result) as a dict, whole numbers as int: {"epochs": 4}, not 4.0."""
    return cast(dict[str, Any], whole_numbers(json_format.MessageToDict(struct)))


def from_value(value: struct_pb2.Value) -> Any:
    """A Value (an input's or output's) as plain Python, whole numbers as int."""
    return whole_numbers(json_format.MessageToDict(value))


def message_to_dict(message: Message, **options: Any) -> dict[str, Any]:
    """json_format.MessageToDict (with the same options), whole numbers as int in the
    message's Struct and Value fields (results, inputs, outputs), nowhere else."""
    data = json_format.MessageToDict(message, **options)
    _whole_in_json_fields(message, data, bool(options.get("preserving_proto_field_name")))
    return data


def _whole_in_json_fields(message: Message, data: dict[str, Any], proto_names: bool) -> None:
    for field, value in message.ListFields():
        key = field.name if proto_names else field.json_name
        if field.message_type is None or key not in data:
            continue
        if field.message_type.full_name in _JSON_TYPES:
            data[key] = whole_numbers(data[key])
        elif field.message_type.GetOptions().map_entry:
            entry_value = field.message_type.fields_by_name["value"]
            if entry_value.message_type is not None:
                for item_key, item in value.items():
                    _whole_in_json_fields(item, data[key][str(item_key)], proto_names)
        elif field.is_repeated:
            for item, item_data in zip(value, data[key], strict=True):
                _whole_in_json_fields(item, item_data, proto_names)
        else:
            _whole_in_json_fields(value, data[key], proto_names)
