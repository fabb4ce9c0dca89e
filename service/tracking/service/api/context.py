"""What a handler learns about its caller."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from tracking.service.auth import current_principal
from tracking.service.domain.auth import Role

Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]


def principal(context: Context) -> str:
    """The caller's name (the token's name; "anonymous" when auth is off)."""
    return current_principal.get().name


def may_see_endpoint_tokens() -> bool:
    """Endpoint tokens are shown to writers and admins (anyone when auth is off), not readers."""
    return current_principal.get().role >= Role.WRITER
