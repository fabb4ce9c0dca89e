"""Python client of the tracking service: TrackingClient (blocking) and AsyncTrackingClient."""

from .async_client import AsyncTrackingClient
from .convert import EnumArg, enum_value, to_struct, to_timestamp
from .errors import (
    Aborted,
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RemoteException,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    from_rpc_error,
)
from .methods import DEFAULT_ADDRESS
from .requests import DeploymentFields, DeploymentUpdate
from .retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from .sync_client import TrackingClient

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_RETRY",
    "NO_RETRY",
    "Aborted",
    "AlreadyExists",
    "AsyncTrackingClient",
    "DeadlineExceeded",
    "DeploymentFields",
    "DeploymentUpdate",
    "EnumArg",
    "FailedPrecondition",
    "FieldViolation",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "RemoteException",
    "ResourceExhausted",
    "RetryPolicy",
    "TrackingClient",
    "Unauthenticated",
    "Unavailable",
    "enum_value",
    "from_rpc_error",
    "to_struct",
    "to_timestamp",
]
