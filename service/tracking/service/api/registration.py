"""Registers the servicer so a handler may yield already-serialized bytes.

The generated add_TrackingServiceServicer_to_server serializes every response
itself; WatchStatus fans one event out to many watchers and serializes it once,
so the serializer here passes bytes through untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message

from tracking.service.api.sanitize import sanitize
from tracking.service.domain.errors import ValidationCollector
from tracking.service.wrapping import SERVICE_PREFIX, Malformed, WrappingInterceptor
from tracking.v1 import tracking_service_pb2

SERVICE = tracking_service_pb2.DESCRIPTOR.services_by_name["TrackingService"]


def _serialize(response: Message | bytes) -> bytes:
    return response if isinstance(response, bytes) else response.SerializeToString()


def _deserializer(request_class: Any) -> Any:
    def parse(data: bytes) -> Message | Malformed:
        try:
            parsed: Message = request_class.FromString(data)
        except DecodeError:
            return Malformed(request_class.DESCRIPTOR.full_name)
        # Unknown enum numbers and NUL characters, wherever they are, never reach a handler.
        errors = ValidationCollector()
        sanitize(errors, parsed, "")
        if errors.violations:
            return Malformed(request_class.DESCRIPTOR.full_name, errors.violations)
        return parsed

    return parse


def register(
    servicer: Any, server: grpc.aio.Server, interceptors: Sequence[WrappingInterceptor] = ()
) -> None:
    """Add the service; `interceptors` (outermost first) wrap each method once, here."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in SERVICE.methods:
        request_class = getattr(tracking_service_pb2, method.input_type.name)
        behavior = getattr(servicer, method.name)
        path = SERVICE_PREFIX + method.name
        for interceptor in reversed(interceptors):
            behavior = (
                interceptor.wrap_stream(behavior, path)
                if method.server_streaming
                else interceptor.wrap_unary(behavior, path)
            )
        factory = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        handlers[method.name] = factory(
            behavior,
            request_deserializer=_deserializer(request_class),
            response_serializer=_serialize,
        )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),)
    )
