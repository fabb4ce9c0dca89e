"""Registers the servicer so a handler may yield already-serialized bytes.

The generated add_TrackingServiceServicer_to_server serializes every response
itself; WatchStatus fans one event out to many watchers and serializes it once,
so the serializer here passes bytes through untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
from google.protobuf.message import DecodeError, Message

from tracking.service.api.sanitize import sanitize
from tracking.service.domain.errors import ValidationCollector
from tracking.service.wrapping import (
    SERVICE_PREFIX,
    Malformed,
    Stream,
    Unary,
    WrappingInterceptor,
    fuse_stream,
    fuse_unary,
)
from tracking.v1 import tracking_service_pb2

SERVICE = tracking_service_pb2.DESCRIPTOR.services_by_name["TrackingService"]


def _serialize(response: Message | bytes) -> bytes:
    return response if isinstance(response, bytes) else response.SerializeToString()


def sanitized(parsed: Message, may_hold_nul: bool = True) -> Message | Malformed:
    """The request, or Malformed when it holds enum numbers the contract does not define or
    NUL characters, wherever they are: such values never reach a handler. A request parsed
    from a protobuf encoding without a zero byte holds no NUL (`may_hold_nul=False`)."""
    errors = ValidationCollector()
    sanitize(errors, parsed, "", strings=may_hold_nul)
    if errors.violations:
        return Malformed(parsed.DESCRIPTOR.full_name, errors.violations)
    return parsed


def _deserializer(request_class: Any) -> Any:
    def parse(data: bytes) -> Message | Malformed:
        try:
            parsed: Message = request_class.FromString(data)
        except DecodeError:
            return Malformed(request_class.DESCRIPTOR.full_name)
        return sanitized(parsed, may_hold_nul=b"\x00" in data)

    return parse


@dataclass(frozen=True)
class Method:
    """One TrackingService method with its behavior wrapped by every interceptor."""

    name: str
    request_class: Any
    response_class: Any
    streaming: bool
    behavior: Unary | Stream

    @property
    def unary(self) -> Unary:
        assert not self.streaming, self.name
        return cast(Unary, self.behavior)

    @property
    def stream(self) -> Stream:
        assert self.streaming, self.name
        return cast(Stream, self.behavior)


def compose(servicer: Any, interceptors: Sequence[WrappingInterceptor] = ()) -> list[Method]:
    """Each method of the service, wrapped by `interceptors` (outermost first), once: the
    gRPC server and the HTTP side run the same composed behaviors."""
    methods = []
    for method in SERVICE.methods:
        behavior = getattr(servicer, method.name)
        path = SERVICE_PREFIX + method.name
        if method.server_streaming:
            stages = [interceptor.stream_stage(path) for interceptor in interceptors]
            behavior = fuse_stream([stage for stage in stages if stage is not None], behavior)
        else:
            stages = [interceptor.unary_stage(path) for interceptor in interceptors]
            behavior = fuse_unary([stage for stage in stages if stage is not None], behavior)
        methods.append(
            Method(
                method.name,
                getattr(tracking_service_pb2, method.input_type.name),
                getattr(tracking_service_pb2, method.output_type.name),
                method.server_streaming,
                behavior,
            )
        )
    return methods


def register(methods: Sequence[Method], server: grpc.aio.Server) -> None:
    """Add the composed methods to the gRPC server."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in methods:
        factory = (
            grpc.unary_stream_rpc_method_handler
            if method.streaming
            else grpc.unary_unary_rpc_method_handler
        )
        handlers[method.name] = factory(
            method.behavior,
            request_deserializer=_deserializer(method.request_class),
            response_serializer=_serialize,
        )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),)
    )
