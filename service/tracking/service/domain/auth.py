"""Roles, which RPC needs which role, and the shape of a token."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    """Ordered: each role allows what the roles below it allow."""

    READER = 1
    WRITER = 2
    ADMIN = 3


READER_RPCS = frozenset(
    {
        "GetDeployment",
        "ListDeployments",
        "GetExecution",
        "ListExecutions",
        "GetExecutionInput",
        "GetExecutionOutput",
        "GetJobStatus",
        "GetExecutionLogs",
        "WatchStatus",
        "StreamLogs",
        "ListMetrics",
        "GetMetricHistory",
        "StreamMetrics",
        "GetServiceInfo",
    }
)
WRITER_RPCS = frozenset(
    {
        "CreateDeployment",
        "UpdateDeployment",
        "CreateExecution",
        "UpdateJobStatus",
        "CancelExecution",
        "SetExecutionOutputs",
        "UpdateStep",
        "AppendLogs",
        "LogMetrics",
    }
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and role."""

    name: str
    role: Role
    token_id: str


def required_role(rpc: str) -> Role:
    if rpc in READER_RPCS:
        return Role.READER
    if rpc in WRITER_RPCS:
        return Role.WRITER
    # Anything not listed (including RPCs added later) needs the highest role until listed.
    return Role.ADMIN


TOKEN_ID = re.compile(r"tok_[0-9a-f]{12}")
_SECRET = re.compile(r"(tok_[0-9a-f]{12})\.([A-Za-z0-9_-]{43})")


def new_token() -> tuple[str, str]:
    """(token_id, secret): the secret is the id, a dot and 32 random bytes."""
    token_id = f"tok_{secrets.token_hex(6)}"
    return token_id, f"{token_id}.{secrets.token_urlsafe(32)}"


def parse_secret(secret: str) -> str | None:
    """The token_id of a well-formed secret, None for anything else."""
    match = _SECRET.fullmatch(secret)
    return match.group(1) if match else None


def digest(secret: str) -> str:
    # The secret has 256 random bits: a plain hash cannot be brute-forced.
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
