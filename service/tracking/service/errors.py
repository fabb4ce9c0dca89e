"""Domain errors -> gRPC statuses with google.rpc details, in one place.

The interceptor wraps every handler: a DomainError becomes its precise code
(INVALID_ARGUMENT carries a google.rpc.BadRequest naming each field); anything
else is logged and becomes INTERNAL, and the server keeps serving, except losing the
database (restart, connection cut), which is UNAVAILABLE: try again, resume the stream.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from tracking.service.domain import errors
from tracking.service.store.faults import connection_lost, storage_refused
from tracking.service.wrapping import (
    CallFacts,
    Context,
    Malformed,
    Stage,
    WrappingInterceptor,
)

log = logging.getLogger("tracking.errors")

_CODES: dict[type[errors.DomainError], int] = {
    errors.InvalidArgument: code_pb2.INVALID_ARGUMENT,
    errors.NotFound: code_pb2.NOT_FOUND,
    errors.AlreadyExists: code_pb2.ALREADY_EXISTS,
    errors.FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    errors.Aborted: code_pb2.ABORTED,
    errors.ResourceExhausted: code_pb2.RESOURCE_EXHAUSTED,
    errors.Unavailable: code_pb2.UNAVAILABLE,
}


def code_of(error: errors.DomainError) -> int:
    """The status code of the nearest class of `error` that has one: a subclass of NotFound
    is NOT_FOUND without a line here; a bare DomainError is INTERNAL."""
    for kind in type(error).__mro__:
        if kind in _CODES:
            return _CODES[kind]
    return int(code_pb2.INTERNAL)


def to_status(error: errors.DomainError) -> grpc.Status:
    status = status_pb2.Status(code=code_of(error), message=error.message)
    if isinstance(error, errors.InvalidArgument):
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description
                    )
                    for v in error.violations
                ]
            )
        )
        status.details.append(detail)
    return cast(grpc.Status, rpc_status.to_status(status))  # grpc_status has no stubs


class ErrorInterceptor(WrappingInterceptor):
    def unary_stage(self, method: str) -> Stage:
        return self._stage(method)

    def stream_stage(self, method: str) -> Stage:
        return self._stage(method)

    @staticmethod
    def _stage(method: str) -> Stage:
        async def open_call(request: Any, context: Context, facts: CallFacts) -> None:
            _refuse_malformed(request)

        async def fail(_state: None, context: Context, error: BaseException) -> None:
            if isinstance(error, Exception) and not isinstance(error, grpc.aio.AbortError):
                await _abort(context, error, method)

        return Stage(open_call, fail=fail)


async def _abort(
    context: grpc.aio.ServicerContext[Any, Any], error: Exception, method: str
) -> None:
    if isinstance(error, errors.DomainError):
        await context.abort_with_status(to_status(error))
    if connection_lost(error):
        # Not a fault of the call: the database is restarting or out of reach. A read can be
        # sent again, and a stream resumed from its cursor, once it is back.
        log.warning("%s: lost the database (%s)", method, error.__class__.__name__)
        await context.abort(
            grpc.StatusCode.UNAVAILABLE, "the database is unreachable; try again shortly"
        )
    refusal = storage_refused(error)
    if refusal is not None:
        log.error("%s: the database refuses writes: %s", method, refusal)
        await context.abort(
            grpc.StatusCode.UNAVAILABLE,
            f"the database refuses writes ({refusal}); try again once it is fixed",
        )
    log.exception("unexpected error in %s", method, exc_info=error)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; the server logged the details")


def _refuse_malformed(request: Any) -> None:
    if isinstance(request, Malformed):
        raise errors.InvalidArgument(request.violations)
