"""The one way the interceptors wrap TrackingService handlers.

An interceptor subclasses WrappingInterceptor and says how it wraps a unary
behavior and a server-streaming one; handlers of other services (health,
reflection) follow conventions of their own and pass untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from tracking.service.domain.errors import Violation

SERVICE_PREFIX = "/tracking.v1.TrackingService/"

Context = grpc.aio.ServicerContext[Any, Any]
Unary = Callable[[Any, Context], Awaitable[Any]]
Stream = Callable[[Any, Context], AsyncIterator[Any]]


class Malformed:
    """Stands for a request that does not parse or holds values no handler may see (see
    api/registration.py); the error interceptor answers INVALID_ARGUMENT naming them."""

    def __init__(self, message_type: str, violations: list[Violation] | None = None) -> None:
        self.message_type = message_type
        self.violations = violations or [
            Violation("request", f"is not a valid {message_type} message")
        ]


class WrappingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    def wrap_unary(self, behavior: Unary, details: grpc.HandlerCallDetails) -> Unary:
        return behavior

    def wrap_stream(self, behavior: Stream, details: grpc.HandlerCallDetails) -> Stream:
        return behavior

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(details)
        if handler is None or not details.method.startswith(SERVICE_PREFIX):
            return handler
        unary: Any = handler.unary_unary  # the stubs type behaviors as synchronous
        stream: Any = handler.unary_stream
        if unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self.wrap_unary(unary, details),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self.wrap_stream(stream, details),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler
