"""Proto values <-> plain ones: proto-JSON documents, times and durations (bad ones are
INVALID_ARGUMENT naming the field)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import json_format
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from tracking.service.domain.errors import InvalidArgument


def to_json(message: Message, field: str) -> dict[str, Any]:
    """The proto-JSON form stored for a nested message; INVALID_ARGUMENT if JSON cannot hold it."""
    try:
        document = json_format.MessageToDict(message, preserving_proto_field_name=True)
    except (json_format.Error, ValueError) as error:
        raise InvalidArgument.of(field, f"cannot be stored: {error}") from None
    if "\\u0000" in json.dumps(document):
        raise InvalidArgument.of(field, "must not contain NUL characters")
    if _depth(document) > MAX_VALUE_DEPTH:
        # Deeper values would make every later response carrying them too deep to parse.
        raise InvalidArgument.of(field, f"nests values more than {MAX_VALUE_DEPTH} levels deep")
    return document


MAX_VALUE_DEPTH = 32


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def from_json(document: dict[str, Any], message: Message) -> Any:
    return json_format.ParseDict(document, message, ignore_unknown_fields=True)


def time_or_none(timestamp: Timestamp, present: bool, field: str) -> datetime | None:
    """The time a Timestamp field holds; INVALID_ARGUMENT naming the field if out of range."""
    if not present or (timestamp.seconds == 0 and timestamp.nanos == 0):
        return None
    try:
        return timestamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as error:
        raise InvalidArgument.of(field, f"is not a valid time: {error}") from None


# The range google.protobuf.Duration allows: about 10,000 years either way.
_MAX_DURATION_SECONDS = 315_576_000_000


def timedelta_or_none(duration: Duration, present: bool, field: str) -> timedelta | None:
    """The span a Duration field holds; INVALID_ARGUMENT naming the field if it is not a
    valid Duration (out of range, or seconds and nanos of different signs)."""
    if not present:
        return None
    seconds, nanos = duration.seconds, duration.nanos
    if (
        abs(seconds) > _MAX_DURATION_SECONDS
        or abs(nanos) > 999_999_999
        or (seconds < 0 < nanos)
        or (nanos < 0 < seconds)
    ):
        raise InvalidArgument.of(
            field, f"is not a valid duration (seconds {seconds}, nanos {nanos})"
        )
    return duration.ToTimedelta()


def seconds_or_none(duration: Duration, present: bool, field: str) -> float | None:
    """As timedelta_or_none, in seconds."""
    span = timedelta_or_none(duration, present, field)
    return None if span is None else span.total_seconds()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# A Timestamp or Duration as a message constructor takes it: its fields in a dict, which
# protobuf's C code copies in at a fraction of what making the message in Python costs.
TimeFields = dict[str, int]


def stamp(value: datetime | None) -> TimeFields | None:
    """A Timestamp field's value for a message constructor (the values are aware UTC; a
    naive one is taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    since = value - _EPOCH
    return {"seconds": since.days * 86400 + since.seconds, "nanos": since.microseconds * 1000}


def span(value: timedelta) -> TimeFields:
    """A Duration field's value for a message constructor: Duration.FromTimedelta's
    (seconds and nanos of the same sign), without its per-call Python."""
    micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    seconds, rest = divmod(abs(micros), 1_000_000)
    sign = -1 if micros < 0 else 1
    return {"seconds": sign * seconds, "nanos": sign * rest * 1000}
