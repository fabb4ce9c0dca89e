"""Registers the servicer so a handler may yield already-serialized bytes.

The generated add_TrackingServiceServicer_to_server serializes every response
itself; WatchStatus fans one event out to many watchers and serializes it once,
so the serializer here passes bytes through untouched.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.message import Message

from tracking.v1 import tracking_service_pb2

SERVICE = tracking_service_pb2.DESCRIPTOR.services_by_name["TrackingService"]


def _serialize(response: Message | bytes) -> bytes:
    return response if isinstance(response, bytes) else response.SerializeToString()


def register(servicer: Any, server: grpc.aio.Server) -> None:
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in SERVICE.methods:
        request_class = getattr(tracking_service_pb2, method.input_type.name)
        behavior = getattr(servicer, method.name)
        factory = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        handlers[method.name] = factory(
            behavior, request_deserializer=request_class.FromString, response_serializer=_serialize
        )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),)
    )
