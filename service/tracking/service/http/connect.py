"""Every TrackingService method over the Connect protocol, served by connectrpc.

connectrpc reads the request (POST of JSON or binary protobuf, or GET for the methods the
contract marks NO_SIDE_EFFECTS; compression; size limit) and writes the response and the
error body. Each endpoint runs the method's composed behavior with an HttpCallContext, so
what the gRPC side checks and counts, this side checks and counts.

The codecs never raise: a body that does not parse becomes a Malformed request, which the
composed behavior answers with INVALID_ARGUMENT naming the field, after auth, as gRPC does.

A compressed body, or one over INLINE_BYTES, is inflated and parsed off the event loop:
its codec hands over a Deferred, which the endpoint resolves in a thread (after early
auth admitted the caller), then memory is given back (http/memory.py). A JSON body with
more than MAX_JSON_TOKENS arrays, objects, members and elements is refused before it is
parsed: the JSON parser holds the interpreter for its whole parse, thread or not (4 MiB
of `[]` took 1-2 s, 4.7 MB of members 1.7 s).
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from connectrpc.code import Code
from connectrpc.compression.gzip import GzipCompression
from connectrpc.errors import ConnectError, ErrorDetail
from connectrpc.request import RequestContext
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2

from tracking.service.api.registration import Method, sanitized
from tracking.service.domain.errors import Violation
from tracking.service.http.context import HttpAbort, HttpCallContext, call_context, client_of
from tracking.service.http.generated import error_details_pb
from tracking.service.http.memory import release_soon
from tracking.service.wrapping import Malformed
from tracking.v1 import tracking_service_connect

CONNECT_PREFIX = "/tracking.v1.TrackingService/"
# A body up to this size, not compressed, is parsed on the loop (it costs less than a
# thread's round trip).
INLINE_BYTES = 64 * 1024
# The most arrays, objects, members and elements a JSON request may hold, counted by
# their "[", "{", ":" and "," outside strings (an AppendLogs of 5,000 lines of three
# fields holds about 30,000).
MAX_JSON_TOKENS = 200_000
_CODES = {code.name: code for code in Code} | {"CANCELLED": Code.CANCELED}
_UNKNOWN_FIELD = re.compile(r'has no field named "([^"]+)"')
_BAD_FIELD = re.compile(r"Failed to parse (\w+) field: (.*)", re.DOTALL)
# The path protobuf names at the end of a nested field's error: "... at Type.a[0].b."
_BAD_PATH = re.compile(r" at \w+\.([\w\[\]\.]+?)\.*$")


def _violation(message_type: str, error: json_format.ParseError) -> Violation:
    text = str(error).splitlines()[0]
    if found := _UNKNOWN_FIELD.search(text):
        return Violation(found.group(1), f"is not a field of {message_type}")
    if found := _BAD_FIELD.search(text):
        # A nested field is named by its whole path (points[0].value), not its top field.
        path = _BAD_PATH.search(text)
        inner = _BAD_FIELD.search(found.group(2))
        while inner:
            found, inner = inner, _BAD_FIELD.search(inner.group(2))
        return Violation(path.group(1) if path else found.group(1), found.group(2).strip())
    return Violation("request", f"is not valid JSON for {message_type}: {text}")


_INTEGERS = {
    FieldDescriptor.CPPTYPE_INT32,
    FieldDescriptor.CPPTYPE_INT64,
    FieldDescriptor.CPPTYPE_UINT32,
    FieldDescriptor.CPPTYPE_UINT64,
}
_NUMBERS = _INTEGERS | {FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE}
_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}
_SPELLED = {"Infinity", "-Infinity", "NaN"}


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    return "an object" if isinstance(value, dict) else "an array"


def _integer(value: float | str) -> int | None:
    """The integer a JSON number or string stands for ("12", 12.0, "1e3"), else None."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number.is_integer() else None


def _not_a_number(field: FieldDescriptor, value: object) -> str | None:
    """Why a JSON value is no number for a numeric field, where protobuf's parser would take
    it (true as 1, "1e400" as Infinity) or refuse it without saying where (an array, an
    integer's bad string, an integer out of range)."""
    if value is None:
        return None  # the field's default, as proto-JSON says
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return f"must be a number, not {_json_type(value)}"
    if field.cpp_type in _INTEGERS:
        number = _integer(value)
        if number is None:
            return f"must be an integer, got {value!r}"
        low, high = _RANGES[field.cpp_type]
        return None if low <= number <= high else f"is out of range, got {value!r}"
    if isinstance(value, str) and value not in _SPELLED:
        try:
            if not math.isfinite(float(value)):
                return f"is out of range (or spell it Infinity, -Infinity, NaN), got {value!r}"
        except ValueError:
            return f"must be a number, got {value!r}"
    return None


def _misfit(document: dict[str, Any], descriptor: Any, prefix: str) -> Violation | None:
    """The first numeric field of a request's JSON given something that is not a number,
    named by its whole path (points[1].value)."""
    for key, value in document.items():
        field = descriptor.fields_by_name.get(key) or descriptor.fields_by_camelcase_name.get(key)
        if field is None or value is None:
            continue  # an unknown field is protobuf's to name; null is the default value
        path = f"{prefix}{field.name}"
        repeated = field.is_repeated
        if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            kind = field.message_type
            if kind.full_name.startswith("google.protobuf.") or kind.GetOptions().map_entry:
                continue  # well-known types and maps have JSON forms of their own
            items = enumerate(value) if repeated and isinstance(value, list) else [(-1, value)]
            for index, item in items:
                if isinstance(item, dict):
                    at = f"{path}[{index}]." if index >= 0 else f"{path}."
                    if (found := _misfit(item, kind, at)) is not None:
                        return found
        elif field.cpp_type in _NUMBERS:
            items = enumerate(value) if repeated and isinstance(value, list) else [(-1, value)]
            for index, item in items:
                if (why := _not_a_number(field, item)) is not None:
                    return Violation(f"{path}[{index}]" if index >= 0 else path, why)
        elif field.cpp_type == FieldDescriptor.CPPTYPE_STRING:
            # protobuf names only the innermost field of a string given something else.
            items = enumerate(value) if repeated and isinstance(value, list) else [(-1, value)]
            for index, item in items:
                if item is not None and not isinstance(item, str):
                    return Violation(
                        f"{path}[{index}]" if index >= 0 else path,
                        f"must be a string, not {_json_type(item)}",
                    )
    return None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (else the last would silently win)."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return document


class _Compressed(bytes):
    """A compressed body not inflated yet: `inflate` does it (in a thread)."""

    inflate: Callable[[], bytes]


class DeferredGzip:
    """gzip whose decompress leaves the inflating to the codec's Deferred."""

    def __init__(self) -> None:
        self._gzip = GzipCompression()

    def name(self) -> str:
        return "gzip"

    def compress(self, data: bytes | bytearray | memoryview) -> bytes:
        return self._gzip.compress(data)

    def decompress(
        self, data: bytes | bytearray | memoryview, read_max_bytes: int | None = None
    ) -> bytes:
        body = _Compressed(data)
        # Of `data`, not of `body`: a cycle would keep the body until a collection.
        body.inflate = functools.partial(self._inflate, bytes(data), read_max_bytes)
        return body

    def _inflate(self, data: bytes, read_max_bytes: int | None) -> bytes:
        # What connectrpc's own decompression says of a body too large or not gzip.
        try:
            return self._gzip.decompress(data, read_max_bytes)
        except ConnectError:
            raise
        except Exception as error:
            raise ConnectError(Code.INVALID_ARGUMENT, f"decompress: {error}") from error


# Two bodies are inflated and parsed at once, the rest wait their turn: what the parses
# hold together stays bounded, and other threads' work does not queue behind them.
_parser = ThreadPoolExecutor(2, thread_name_prefix="tracking-parse")


class Deferred:
    """A request to inflate and parse off the loop: `await resolve()`."""

    def __init__(self, decode: Callable[[], Message | Malformed]) -> None:
        self._decode: Callable[[], Message | Malformed] | None = decode

    async def resolve(self) -> Message | Malformed:
        # Once: the body goes with it (the frames of a refused call may outlive the call).
        decode, self._decode = self._decode, None
        assert decode is not None, "resolved twice"
        try:
            return await asyncio.get_running_loop().run_in_executor(_parser, decode)
        finally:
            del decode
            release_soon()


def _defer(
    data: bytes | bytearray, decode: Callable[[bytes], Message | Malformed]
) -> Message | Malformed | Deferred:
    """Parse a small plain body now; inflate and parse a compressed or large one later."""
    if isinstance(data, _Compressed):
        inflate = data.inflate
        return Deferred(lambda: decode(inflate()))
    if len(data) > INLINE_BYTES:
        body = bytes(data)
        return Deferred(lambda: decode(body))
    return decode(bytes(data))


_STRUCTURE = (b"[", b"{", b":", b",")


def _structure(data: bytes) -> int:
    """How many "[", "{", ":" and "," `data` holds outside its strings (at least half its
    strings: each is a member or an element), counted in C."""
    rough = sum(map(data.count, _STRUCTURE))
    if rough <= MAX_JSON_TOKENS:
        return rough
    plain = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    quotes = plain.count(b'"')
    if quotes > 2 * MAX_JSON_TOKENS:
        return quotes // 2
    # Outside strings: before the first unescaped quote, and after every second one.
    outside = b"".join(plain.split(b'"')[::2])
    return sum(map(outside.count, _STRUCTURE))


class JsonCodec:
    """Proto-JSON; unknown fields are refused (a misspelt field must not be dropped)."""

    def name(self) -> str:
        return "json"

    def encode(self, message: Message | bytes) -> bytes:
        # A final newline, so that curl's output ends its line.
        return json_format.MessageToJson(message, indent=None).encode() + b"\n"  # type: ignore[arg-type]

    def decode(
        self, data: bytes | bytearray, message_class: type[Message]
    ) -> Message | Malformed | Deferred:
        return _defer(data, functools.partial(self._decode, message_class=message_class))

    @staticmethod
    def _decode(data: bytes, message_class: type[Message]) -> Message | Malformed:
        message = message_class()
        name = message.DESCRIPTOR.full_name
        if _structure(data) > MAX_JSON_TOKENS:
            too_many = f"holds more than {MAX_JSON_TOKENS} arrays, objects, members and elements"
            return Malformed(name, [Violation("request", too_many)])
        try:
            document = json.loads(bytes(data) or b"{}", object_pairs_hook=_unique_keys)
        except _DuplicateKey as duplicate:
            return Malformed(name, [Violation(duplicate.key, "is given more than once")])
        except (ValueError, RecursionError) as error:
            return Malformed(name, [Violation("request", f"is not valid JSON: {error}")])
        if not isinstance(document, dict):
            return Malformed(name, [Violation("request", f"must be a JSON object ({name})")])
        if (misfit := _misfit(document, message.DESCRIPTOR, "")) is not None:
            return Malformed(name, [misfit])
        try:
            json_format.ParseDict(document, message, ignore_unknown_fields=False)
        except json_format.ParseError as error:
            return Malformed(name, [_violation(name, error)])
        except RecursionError:
            return Malformed(name, [Violation("request", "is nested too deeply")])
        return sanitized(message)


class BinaryCodec:
    def name(self) -> str:
        return "proto"

    def encode(self, message: Message | bytes) -> bytes:
        return message if isinstance(message, bytes) else message.SerializeToString()

    def decode(
        self, data: bytes | bytearray, message_class: type[Message]
    ) -> Message | Malformed | Deferred:
        return _defer(data, functools.partial(self._decode, message_class=message_class))

    @staticmethod
    def _decode(body: bytes, message_class: type[Message]) -> Message | Malformed:
        try:
            message = message_class.FromString(body)
        except DecodeError:
            return Malformed(message_class.DESCRIPTOR.full_name)
        return sanitized(message, may_hold_nul=b"\x00" in body)


def connect_error(abort: HttpAbort) -> ConnectError:
    """The Connect error for a status; a BadRequest is kept, readable in the error's JSON."""
    details: list[ErrorDetail] = []
    for detail in abort.status.details if abort.status is not None else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            # connectrpc renders the details of its own protobuf runtime as JSON ("debug").
            details.append(ErrorDetail(error_details_pb.BadRequest.from_binary(detail.value)))
    return ConnectError(_CODES.get(abort.code.name, Code.UNKNOWN), abort.message, details)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _context(ctx: RequestContext[Any, Any]) -> HttpCallContext:
    headers = ctx.request_headers
    return call_context(headers.items(), headers.get("cookie", ""), client_of(ctx.client_address))


def _pass_headers(context: HttpCallContext, ctx: RequestContext[Any, Any]) -> None:
    for key, value in context.response_headers:
        ctx.response_headers[key] = value
    context.response_headers.clear()


class _Bridge:
    """Stands for the generated TrackingService: one coroutine per method, by its Python
    name, each running the composed behavior."""

    def __init__(self, methods: Sequence[Method]) -> None:
        self._calls = {
            _snake(m.name): self._stream(m) if m.streaming else self._unary(m) for m in methods
        }

    def __getattr__(self, name: str) -> Any:
        try:
            return self._calls[name]
        except KeyError:
            raise AttributeError(name) from None

    @staticmethod
    def _unary(method: Method) -> Any:
        async def call(request: Any, ctx: RequestContext[Any, Any]) -> Any:
            if isinstance(request, Deferred):
                request = await request.resolve()
            context = _context(ctx)
            try:
                return await method.unary(request, cast(Any, context))
            except HttpAbort as abort:
                raise connect_error(abort) from None
            finally:
                _pass_headers(context, ctx)

        return call

    @staticmethod
    def _stream(method: Method) -> Any:
        parse = method.response_class.FromString

        async def call(request: Any, ctx: RequestContext[Any, Any]) -> AsyncIterator[Any]:
            if isinstance(request, Deferred):
                request = await request.resolve()
            context = _context(ctx)
            try:
                async for response in method.stream(request, cast(Any, context)):
                    _pass_headers(context, ctx)
                    yield parse(response) if isinstance(response, bytes) else response
            except HttpAbort as abort:
                raise connect_error(abort) from None

        return call


def connect_app(methods: Sequence[Method], max_message_bytes: int) -> Any:
    """The ASGI application serving /tracking.v1.TrackingService/<Method>."""
    return tracking_service_connect.TrackingServiceASGIApplication(
        cast(tracking_service_connect.TrackingService, _Bridge(methods)),
        read_max_bytes=max_message_bytes,
        compressions=[DeferredGzip()],
        codecs=[cast(Any, JsonCodec()), cast(Any, BinaryCodec())],
    )
