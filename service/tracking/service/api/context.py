"""What a handler learns about its caller."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from tracking.service.auth import current_principal

Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]


def principal(context: Context) -> str:
    """The caller's name (the token's name; "anonymous" when auth is off)."""
    return current_principal.get().name
