import pickle
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from tracking.client import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    RemoteException,
    Unavailable,
    from_rpc_error,
)


class CallError(grpc.RpcError, grpc.Call):
    """An error as the sync channel raises it: an RpcError that is also a Call."""

    def __init__(
        self,
        code: grpc.StatusCode,
        details: str,
        trailing: tuple[tuple[str, str | bytes], ...] = (),
    ) -> None:
        self._code = code
        self._details = details
        self._trailing = trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailing

    def initial_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return 0.0

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: object) -> bool:
        return False


def bad_request_status(message: str, *violations: tuple[str, str]) -> bytes:
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                for f, d in violations
            ]
        )
    )
    status = status_pb2.Status(
        code=grpc.StatusCode.INVALID_ARGUMENT.value[0], message=message, details=[detail]
    )
    data: bytes = status.SerializeToString()
    return data


VIOLATIONS = (("execution_id", "must start with a letter or digit"), ("labels.x y", "bad key"))


def test_sync_bad_request_becomes_invalid_argument_with_violations() -> None:
    details = bad_request_status("invalid request", *VIOLATIONS)
    err = CallError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid request",
        (("grpc-status-details-bin", details),),
    )
    exc = from_rpc_error(err)
    assert isinstance(exc, InvalidArgument)
    assert exc.code is grpc.StatusCode.INVALID_ARGUMENT
    assert exc.message == "invalid request"
    assert exc.field_violations == [FieldViolation(f, d) for f, d in VIOLATIONS]


def test_aio_bad_request_is_read_from_trailing_metadata() -> None:
    details = bad_request_status("invalid request", *VIOLATIONS)
    err = grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(("grpc-status-details-bin", details)),
        "invalid request",
        None,
    )
    exc = from_rpc_error(err)
    assert isinstance(exc, InvalidArgument)
    assert exc.field_violations == [FieldViolation(f, d) for f, d in VIOLATIONS]


def test_inconsistent_rich_status_is_ignored() -> None:
    details = bad_request_status("something else", ("f", "d"))
    err = CallError(
        grpc.StatusCode.INVALID_ARGUMENT, "invalid", (("grpc-status-details-bin", details),)
    )
    exc = from_rpc_error(err)
    assert isinstance(exc, InvalidArgument)
    assert exc.field_violations == []


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.NOT_FOUND, NotFound),
        (grpc.StatusCode.UNAVAILABLE, Unavailable),
        (grpc.StatusCode.UNKNOWN, RemoteException),
        (grpc.StatusCode.DATA_LOSS, RemoteException),
    ],
)
def test_code_picks_the_class(code: grpc.StatusCode, cls: type[RemoteException]) -> None:
    exc = from_rpc_error(CallError(code, "why"))
    assert type(exc) is cls
    assert exc.code is code
    assert exc.message == "why"


def test_bare_rpc_error_is_unknown() -> None:
    exc = from_rpc_error(grpc.RpcError())
    assert type(exc) is RemoteException
    assert exc.code is grpc.StatusCode.UNKNOWN


def test_str_shows_code_message_and_violations() -> None:
    exc = InvalidArgument("invalid request", [FieldViolation("name", "too long")])
    assert str(exc) == "INVALID_ARGUMENT: invalid request [name: too long]"
    assert str(NotFound("no execution e1")) == "NOT_FOUND: no execution e1"


def test_exceptions_survive_pickling() -> None:
    exc = from_rpc_error(CallError(grpc.StatusCode.DATA_LOSS, "lost"))
    copy = pickle.loads(pickle.dumps(exc))
    assert (type(copy), copy.code, str(copy)) == (RemoteException, exc.code, str(exc))
    violation = InvalidArgument("bad", [FieldViolation("f", "d")])
    assert pickle.loads(pickle.dumps(violation)).field_violations == [FieldViolation("f", "d")]
