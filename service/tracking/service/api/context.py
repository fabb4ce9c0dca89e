"""What a handler learns about its caller."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

ANONYMOUS = "anonymous"

Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]


def principal(context: Context) -> str:
    """The caller's name, recorded in created_by / updated_by (anonymous without auth)."""
    return ANONYMOUS
