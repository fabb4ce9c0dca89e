"""Short enum names: RUNNING_STATUS_WAITING is WAITING, the name people and tables use.

Every enum of the contract starts with its X_UNSPECIFIED value (buf lint enforces it), and
each value carries that X_ prefix: the prefix is read from the descriptor, never listed.
"""

from __future__ import annotations

import functools

from google.protobuf.descriptor import EnumDescriptor


@functools.cache
def prefix_of(descriptor: EnumDescriptor) -> str:
    """RunningStatus -> "RUNNING_STATUS_"."""
    return descriptor.values_by_number[0].name.removesuffix("UNSPECIFIED")


def short_name(descriptor: EnumDescriptor, number: int) -> str:
    """The value's name without its prefix ("UNSPECIFIED" for 0); the number must exist."""
    return descriptor.values_by_number[number].name.removeprefix(prefix_of(descriptor))
