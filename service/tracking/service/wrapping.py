"""The one way the three interceptors wrap TrackingService handlers.

An interceptor subclasses WrappingInterceptor and says how it wraps a unary
behavior and a server-streaming one. The wrapping is done once per method, when
the service is registered (api/registration.py), not by gRPC's interceptor
pipeline on every call: each call then runs the composed handler directly and
reads its metadata from its context. Handlers of other services (health,
reflection) follow conventions of their own and are not wrapped.
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


class WrappingInterceptor:
    """Wraps the behavior of one TrackingService method (`method` is its full path)."""

    def wrap_unary(self, behavior: Unary, method: str) -> Unary:
        return behavior

    def wrap_stream(self, behavior: Stream, method: str) -> Stream:
        return behavior
