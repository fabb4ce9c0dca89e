"""What a handler learns about its caller."""

from __future__ import annotations

import grpc

ANONYMOUS = "anonymous"


def principal(context: grpc.aio.ServicerContext) -> str:
    """The caller's name, recorded in created_by / updated_by (anonymous without auth)."""
    return ANONYMOUS
