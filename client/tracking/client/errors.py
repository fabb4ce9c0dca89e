"""Exceptions raised by the clients, one per meaningful gRPC status code."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a rejected request."""

    field: str
    description: str


class RemoteException(Exception):
    """An RPC failed; `code`, `message` and `field_violations` say why."""

    default_code = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str = "",
        field_violations: Iterable[FieldViolation] = (),
        code: grpc.StatusCode | None = None,
    ) -> None:
        self.code: grpc.StatusCode = code if code is not None else self.default_code
        self.message = message
        self.field_violations: list[FieldViolation] = list(field_violations)
        super().__init__(message, self.field_violations, self.code)

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        if self.field_violations:
            violations = "; ".join(f"{v.field}: {v.description}" for v in self.field_violations)
            text += f" [{violations}]"
        return text


class InvalidArgument(RemoteException):
    """A field of the request is malformed; see field_violations."""

    default_code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(RemoteException):
    """The deployment, execution, input or output does not exist."""

    default_code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(RemoteException):
    """The name, id or request_id is already taken."""

    default_code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(RemoteException):
    """The resource is not in a state that allows the change."""

    default_code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(RemoteException):
    """The expected_revision was stale; read again and retry."""

    default_code = grpc.StatusCode.ABORTED


class PermissionDenied(RemoteException):
    """The caller may not do this."""

    default_code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(RemoteException):
    """The token is missing or invalid."""

    default_code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(RemoteException):
    """The request is larger than the server accepts, or a quota is spent."""

    default_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(RemoteException):
    """The server is unreachable or shutting down."""

    default_code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(RemoteException):
    """The call did not complete within its deadline."""

    default_code = grpc.StatusCode.DEADLINE_EXCEEDED


class Internal(RemoteException):
    """The server failed."""

    default_code = grpc.StatusCode.INTERNAL


_BY_CODE: dict[grpc.StatusCode, type[RemoteException]] = {
    cls.default_code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        Aborted,
        PermissionDenied,
        Unauthenticated,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
        Internal,
    )
}


def _call_attr(err: grpc.RpcError, name: str) -> Any:
    # A bare grpc.RpcError has neither code() nor details().
    method = getattr(err, name, None)
    return method() if callable(method) else None


def _rich_status(err: grpc.RpcError) -> status_pb2.Status | None:
    if isinstance(err, grpc.Call):
        try:
            status: status_pb2.Status | None = rpc_status.from_call(err)
        except ValueError:  # the rich status contradicts the call's status: ignore it
            return None
        return status
    # grpc.aio.AioRpcError is not a grpc.Call: read its trailing metadata.
    trailing: Iterable[tuple[str, str | bytes]] = _call_attr(err, "trailing_metadata") or ()
    for key, value in trailing:
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            return status_pb2.Status.FromString(value)
    return None


def _field_violations(status: status_pb2.Status | None) -> list[FieldViolation]:
    violations: list[FieldViolation] = []
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend(
                FieldViolation(v.field, v.description) for v in bad_request.field_violations
            )
    return violations


def from_rpc_error(err: grpc.RpcError) -> RemoteException:
    """Turn a sync or aio RpcError into the RemoteException subclass of its code."""
    code = _call_attr(err, "code")
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    message = _call_attr(err, "details") or ""
    status = _rich_status(err)
    cls = _BY_CODE.get(code, RemoteException)
    return cls(str(message), _field_violations(status), code)
