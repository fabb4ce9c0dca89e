"""Hypothesis strategies for malformed values, and for whole random requests.

Free text the server stores without a length rule (phases, reasons, log
lines, step fields, output values...) stays small here: stored values travel
back in list pages and stream messages, and the suite's other tests share the
server. Only fields the server must reject get the very long values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from hypothesis import strategies as st

M = TypeVar("M", bound=Message)

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Timestamp's valid range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
TIMESTAMP_MIN, TIMESTAMP_MAX = -62135596800, 253402300799

# Names and ids a careless or hostile client might send.
SPECIAL_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    "\x00",
    "a\x00b",
    "\x7f",
    "\x1b[31m",
    "\u200b",
    "\ufeff",
    "\u202eevil",
    "é",
    "名前",
    "😀",
    "\U0010ffff",
    "/",
    "//",
    ".",
    "..",
    "../../etc/passwd",
    "a/b",
    "/abs/path",
    "C:\\Windows\\system32",
    "~",
    "a b",
    " a",
    "a ",
    "-",
    "-a",
    "a-",
    "_a",
    ".a",
    "A",
    "ABC",
    "a_b",
    "a.b",
    "a:b",
    "%",
    "_",
    "*",
    "?",
    "'",
    '"',
    "\\",
    "'; DROP TABLE executions; --",
    "' OR '1'='1",
    "%00",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "<script>",
    "null",
    "None",
    "NaN",
    "undefined",
    "true",
    "0",
    "-1",
    "1e309",
    "tok_",
    "tok_000000000000",
    "tok_ZZZZZZZZZZZZ",
    "tok_0123456789ab.secret",
)
# Lengths around every limit the contract states (names 63, ids 128, text 256 / 4096...).
LIMIT_LENGTHS = (62, 63, 64, 127, 128, 129, 255, 256, 257, 4096, 4097, 65536, 65537)
LONG_UNITS = ("a", "A", "0", "-", "é", "😀", "/", " ", "\x00")


def _repeat(unit: str, length: int) -> str:
    return unit * length


def long_strings() -> st.SearchStrategy[str]:
    """Strings at or just past a limit, and very long ones (up to ~70k characters)."""
    return st.builds(
        _repeat,
        st.sampled_from(LONG_UNITS),
        st.one_of(st.sampled_from(LIMIT_LENGTHS), st.integers(1, 70_000)),
    )


def small_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Short free text: specials, any unicode, plain words."""
    return st.one_of(
        st.sampled_from(SPECIAL_STRINGS),
        st.text(max_size=max_size),
        st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
    )


def junk_names() -> st.SearchStrategy[str]:
    """Names and ids: empty, whitespace, unicode, path-like, very long, almost valid."""
    return st.one_of(
        st.sampled_from(SPECIAL_STRINGS),
        st.text(max_size=30),
        st.text(alphabet="abcxyz019-_.:/ AZ", max_size=140),
        st.from_regex(r"[\s]+", fullmatch=True),
        long_strings(),
        absent_names(),
        # Look-alike twins of valid names: a trailing newline passed `^...$` matching.
        absent_names().map(lambda name: name + "\n"),
    )


def absent_names() -> st.SearchStrategy[str]:
    """Valid names (and ids) that no test ever creates."""
    return st.from_regex(r"fuzz-absent-[a-z0-9]{1,12}", fullmatch=True)


def boundary_ints(low: int, high: int, extra: Sequence[int] = ()) -> st.SearchStrategy[int]:
    edges = [low, low + 1, -1000, -1, 0, 1, 2, high - 1, high, *extra]
    return st.one_of(
        st.sampled_from([e for e in edges if low <= e <= high]), st.integers(low, high)
    )


def int32s(extra: Sequence[int] = ()) -> st.SearchStrategy[int]:
    return boundary_ints(INT32_MIN, INT32_MAX, extra)


def int64s(extra: Sequence[int] = ()) -> st.SearchStrategy[int]:
    return boundary_ints(INT64_MIN, INT64_MAX, extra)


def doubles() -> st.SearchStrategy[float]:
    """Any double, with NaN, infinities, -0.0 and the edges of [0, 1] made likely."""
    return st.one_of(
        st.sampled_from(
            [
                math.nan,
                math.inf,
                -math.inf,
                -0.0,
                0.0,
                0.5,
                1.0,
                -1.0,
                2.0,
                5e-324,
                -5e-324,
                1.0000000000000002,
                0.9999999999999999,
                1e308,
                -1e308,
            ]
        ),
        st.floats(),
    )


def enum_numbers(enum: EnumDescriptor) -> st.SearchStrategy[Any]:
    """Defined values, and numbers the enum does not define (proto3 enums are open).

    Typed Any: the generated stubs want the enum's own type, and these are plain ints.
    """
    defined = sorted(enum.values_by_number)
    undefined = [max(defined) + 1, max(defined) + 100, -1, INT32_MIN, INT32_MAX]
    return st.one_of(
        st.sampled_from(defined), st.sampled_from(undefined), st.integers(INT32_MIN, INT32_MAX)
    )


def timestamps() -> st.SearchStrategy[timestamp_pb2.Timestamp]:
    """Valid times, and seconds / nanos outside the range Timestamp allows."""
    seconds = st.one_of(
        st.integers(0, 2_000_000_000),
        st.sampled_from(
            [TIMESTAMP_MIN - 1, TIMESTAMP_MIN, TIMESTAMP_MAX, TIMESTAMP_MAX + 1, -1, 0]
        ),
        st.integers(INT64_MIN, INT64_MAX),
    )
    nanos = st.one_of(
        st.just(0),
        st.integers(0, 999_999_999),
        st.sampled_from([-1, 1_000_000_000, INT32_MIN, INT32_MAX]),
    )
    return st.builds(timestamp_pb2.Timestamp, seconds=seconds, nanos=nanos)


def durations() -> st.SearchStrategy[duration_pb2.Duration]:
    """Durations of any sign and size, nanos outside their range included."""
    seconds = st.one_of(st.integers(-10, 10**6), st.integers(INT64_MIN, INT64_MAX))
    nanos = st.one_of(st.just(0), st.integers(INT32_MIN, INT32_MAX))
    return st.builds(duration_pb2.Duration, seconds=seconds, nanos=nanos)


# JSON-like values for google.protobuf.Value / Struct, NaN and infinities included.
_JSON_LEAVES: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), doubles(), small_text(20)
)
json_values: st.SearchStrategy[Any] = st.recursive(
    _JSON_LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(small_text(10), children, max_size=4)
    ),
    max_leaves=12,
)


def fill_value(value: struct_pb2.Value, data: Any) -> None:
    """Set a Value from a JSON-like object, in place (no copy: deep values stay deep)."""
    if data is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(data, bool):
        value.bool_value = data
    elif isinstance(data, float):
        value.number_value = data
    elif isinstance(data, str):
        value.string_value = data
    elif isinstance(data, list):
        items = value.list_value.values
        for item in data:
            fill_value(items.add(), item)
        if not data:
            value.list_value.SetInParent()
    else:
        fill_struct(value.struct_value, data)


def fill_struct(struct: struct_pb2.Struct, data: dict[str, Any]) -> None:
    for key, item in data.items():
        fill_value(struct.fields[key], item)
    struct.SetInParent()


def nest_value(value: struct_pb2.Value, depth: int) -> None:
    """A list inside a list ... `depth` times: near protobuf's nesting limit of 100."""
    current = value
    for _ in range(depth):
        current = current.list_value.values.add()
    current.number_value = 1.0


# Depths around the point where a request still parses but the response does not.
NEST_DEPTHS = st.one_of(st.sampled_from([45, 47, 48, 49, 50, 51, 60, 120]), st.integers(1, 70))


# Whole random requests, built from the message's descriptor.


def random_message(cls: type[M], max_depth: int = 3) -> st.SearchStrategy[M]:
    """A message with random fields set: any number, any enum value, any string."""

    @st.composite
    def build(draw: st.DrawFn) -> M:
        message = cls()
        _fill(draw, message, max_depth)
        return message

    return build()


def _fill(draw: st.DrawFn, message: Message, depth: int) -> None:
    descriptor = message.DESCRIPTOR
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            _fill_map(draw, message, field, depth)
        elif field.is_repeated:
            container = getattr(message, field.name)
            for _ in range(draw(st.integers(0, 3))):
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    if depth > 0:
                        _fill(draw, container.add(), depth - 1)
                else:
                    container.append(draw(_scalar(field)))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth > 0:
                child = getattr(message, field.name)
                child.SetInParent()
                _fill(draw, child, depth - 1)
        else:
            setattr(message, field.name, draw(_scalar(field)))


def _fill_map(draw: st.DrawFn, message: Message, field: FieldDescriptor, depth: int) -> None:
    entry = field.message_type
    assert entry is not None
    key_field = entry.fields_by_name["key"]
    value_field = entry.fields_by_name["value"]
    container = getattr(message, field.name)
    for _ in range(draw(st.integers(0, 3))):
        key = draw(_scalar(key_field))
        if value_field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth > 0:
                _fill(draw, container[key], depth - 1)
        else:
            container[key] = draw(_scalar(value_field))


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        return enum_numbers(field.enum_type)
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return doubles() if kind == FieldDescriptor.TYPE_DOUBLE else st.floats(width=32)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_STRING:
        return small_text(30)
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=30)
    if kind in (
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SFIXED32,
    ):
        return int32s()
    if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    return int64s()


# Random wire bytes: mostly well-formed encodings of the message's fields (right wire
# type, any value) and of unknown fields, which parse; sometimes a wrong wire type, a
# lying length, bad UTF-8 or trailing garbage, which do not.

_FIXED64 = (
    FieldDescriptor.TYPE_DOUBLE,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
)
_FIXED32 = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32)
_DELIMITED = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_MESSAGE)


def _varint(value: int) -> bytes:
    value &= 2**64 - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _wire_type(field: FieldDescriptor) -> int:
    if field.type in _FIXED64:
        return 1
    if field.type in _FIXED32:
        return 5
    return 2 if field.type in _DELIMITED or field.is_repeated else 0


@st.composite
def _wire_field(draw: st.DrawFn, fields: Sequence[FieldDescriptor]) -> bytes:
    known = draw(st.sampled_from(fields)) if fields and draw(st.integers(0, 4)) else None
    number = (
        known.number
        if known
        else draw(st.integers(1, 2**29 - 1).filter(lambda n: not 19000 <= n <= 19999))
    )
    wire_type = _wire_type(known) if known else draw(st.sampled_from([0, 1, 2, 5]))
    if draw(st.integers(0, 9)) == 0:  # the wrong wire type, or a group
        wire_type = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7]))
    key = _varint((number << 3) | wire_type)
    if wire_type == 0:
        return key + _varint(draw(st.integers(0, 2**64 - 1)))
    if wire_type == 1:
        return key + draw(st.binary(min_size=8, max_size=8))
    if wire_type == 5:
        return key + draw(st.binary(min_size=4, max_size=4))
    if wire_type == 2:
        if known is not None and known.type == FieldDescriptor.TYPE_MESSAGE:
            payload = b""  # an empty sub-message; its fields are fuzzed elsewhere
        else:
            payload = draw(st.text(max_size=20).map(str.encode))
        if draw(st.integers(0, 9)) == 0:  # bad UTF-8 or a lying length
            payload += b"\xff\xfe"
            return key + _varint(draw(st.integers(0, 2**32))) + payload
        return key + _varint(len(payload)) + payload
    return key + draw(st.binary(max_size=6))


def wire_bytes(descriptor: Descriptor) -> st.SearchStrategy[bytes]:
    fields = list(descriptor.fields)
    return st.lists(_wire_field(fields), max_size=6).map(b"".join)


def parsed_or_raw(cls: type[M], data: bytes) -> M | bytes:
    """The message the bytes encode, or the bytes themselves when they do not parse."""
    try:
        return cls.FromString(data)
    except DecodeError:
        return data


# Filters: the list filter grammar, mostly broken.

FILTER_OPS = ("=", "!=", "<", "<=", ">", ">=", "IN", "in", "==", "~", "", "NOT")
FILTER_JOINS = (" AND ", " and ", " OR ", " && ", " ", ", ", " AND AND ", "")


def filter_times() -> st.SearchStrategy[str]:
    """RFC 3339-ish times, including ones whose UTC conversion leaves the datetime range."""
    offsets = st.timedeltas(
        min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
    )
    aware = st.builds(
        lambda moment, offset: moment.replace(tzinfo=timezone(offset)).isoformat(),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
        offsets,
    )
    return st.one_of(
        st.sampled_from(
            [
                "0001-01-01T00:00:00+01:00",
                "9999-12-31T23:59:59-01:00",
                "0001-01-01T00:00:00Z",
                "9999-12-31T23:59:59Z",
                "2026-01-01T00:00:00Z",
                "2026-01-01",
                "2026-02-30T00:00:00Z",
                "2026-01-01T25:00:00Z",
                "2026-01-01T00:00:00+25:00",
                "now",
                "1700000000",
                "",
            ]
        ),
        aware,
        st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()),
    )


def rfc3339_times() -> st.SearchStrategy[str]:
    """Times the filter language accepts, the first and last days of the calendar included."""
    offsets = st.timedeltas(
        min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
    )
    return st.one_of(
        st.sampled_from(
            [
                "0001-01-01T00:00:00+01:00",
                "9999-12-31T23:59:59-01:00",
                "0001-01-01T00:00:00Z",
                "2026-01-01T00:00:00Z",
                "2026-01-01",
            ]
        ),
        st.builds(
            lambda moment, offset: moment.replace(tzinfo=timezone(offset)).isoformat(),
            st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
            offsets,
        ),
    )


def quoted(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A string literal of the filter language."""
    return text.map(lambda value: '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')


def _compare(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda op, value: f"{name} {op} {value}", st.sampled_from(["=", "!="]), values)


def _among(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(values, min_size=1, max_size=3).map(
        lambda items: f"{name} IN ({', '.join(items)})"
    )


def good_filters(fields: dict[str, st.SearchStrategy[str]], times: bool) -> st.SearchStrategy[str]:
    """Filters that parse: conditions on known fields (and labels, and create_time) joined by AND."""
    conditions: list[st.SearchStrategy[str]] = []
    for name, values in fields.items():
        conditions += [_compare(name, values), _among(name, values)]
    conditions += [
        st.builds(
            lambda key, op, value: f"labels.{key} {op} {value}",
            st.from_regex(r"[a-z0-9][a-z0-9_./-]{0,20}", fullmatch=True),
            st.sampled_from(["=", "!="]),
            quoted(small_text(30)),
        ),
    ]
    if times:
        conditions.append(
            st.builds(
                lambda op, moment: f'create_time {op} "{moment}"',
                st.sampled_from(["<", "<=", ">", ">=", "=", "!="]),
                rfc3339_times(),
            )
        )
    return st.lists(st.one_of(conditions), min_size=1, max_size=3).map(" AND ".join)


def filter_values(choices: Sequence[str]) -> st.SearchStrategy[str]:
    quoted = small_text(20).map(lambda text: '"' + text.replace('"', '\\"') + '"')
    return st.one_of(
        st.sampled_from(choices),
        st.from_regex(r"[A-Za-z0-9_./:+-]{1,20}", fullmatch=True),
        quoted,
        filter_times().map(lambda text: f'"{text}"'),
        st.sampled_from(['"', '"unterminated', "\\", "()", "(a,", "(a, b)", "(", ")", ",", '""']),
        st.lists(st.sampled_from(choices), min_size=1, max_size=3).map(
            lambda items: "(" + ", ".join(items) + ")"
        ),
    )


def filters(fields: Sequence[str], choices: Sequence[str]) -> st.SearchStrategy[str]:
    """Conditions in the filter language, mostly malformed, and raw garbage."""
    names = st.one_of(
        st.sampled_from([*fields, "labels.", "labels", "labels.team", "labels.a/b", "owner"]),
        st.from_regex(r"labels\.[a-zA-Z0-9_./ -]{0,70}", fullmatch=True),
        small_text(12),
    )
    condition = st.builds(
        lambda name, op, value: f"{name} {op} {value}",
        names,
        st.sampled_from(FILTER_OPS),
        filter_values(choices),
    )
    joined = st.builds(
        lambda parts, join: join.join(parts),
        st.lists(condition, min_size=1, max_size=4),
        st.sampled_from(FILTER_JOINS),
    )
    return st.one_of(
        joined,
        st.text(max_size=60),
        st.sampled_from(SPECIAL_STRINGS),
        long_strings(),
        st.builds(lambda cond, n: " AND ".join([cond] * n), condition, st.integers(50, 300)),
    )


# Page and resume tokens: garbage, and real tokens altered.


def altered_tokens(real: Sequence[str]) -> st.SearchStrategy[str]:
    """Garbage, real tokens of other queries, and real tokens cut, extended or flipped."""

    @st.composite
    def alter(draw: st.DrawFn) -> str:
        token = draw(st.sampled_from(real))
        how = draw(st.sampled_from(["flip", "cut", "extend", "pad", "case", "same"]))
        if not token or how == "same":
            return token
        index = draw(st.integers(0, len(token) - 1))
        if how == "flip":
            replacement = draw(st.sampled_from("AB09-_=+/"))
            return token[:index] + replacement + token[index + 1 :]
        if how == "cut":
            return token[:index]
        if how == "extend":
            return token + draw(st.text(min_size=1, max_size=8))
        if how == "pad":
            return token + "=" * draw(st.integers(1, 3))
        return token.swapcase()

    garbage = st.one_of(
        st.sampled_from(SPECIAL_STRINGS),
        st.text(max_size=40),
        st.from_regex(r"[A-Za-z0-9_-]{1,120}", fullmatch=True),
        st.binary(max_size=60).map(lambda raw: raw.hex()),
        long_strings(),
    )
    return st.one_of(garbage, alter()) if real else garbage
