"""Conversions from friendly Python values to protobuf values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

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
