"""Enum values as stored: the short name (RUNNING_STATUS_WAITING is stored as "WAITING")."""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf.descriptor import EnumDescriptor

from tracking.client.enum_names import prefix_of, short_name


@functools.cache
def enum_name(descriptor: EnumDescriptor, number: int) -> str:
    """The stored name of an enum value, e.g. 'PERIODIC'; the caller checked it exists."""
    return short_name(descriptor, number)


@functools.cache
def enum_number(descriptor: EnumDescriptor, name: str) -> Any:
    """The wire number of a stored enum name (typed Any: the stubs want enum wrappers)."""
    return descriptor.values_by_name[prefix_of(descriptor) + name].number
