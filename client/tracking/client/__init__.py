"""Python client of the tracking service: TrackingClient (blocking) and AsyncTrackingClient.

Both have the same methods. Unary calls return typed values and raise a RemoteException
subclass (NotFound, InvalidArgument, ...); reads are retried on UNAVAILABLE as the
RetryPolicy says. Streams come in two kinds:

- `watch_status` / `stream_logs`: the raw responses of one call (events and heartbeats,
  batches of lines); an error ends them.
- `watch` / `follow_logs`: events and single log lines that reconnect by themselves after
  UNAVAILABLE or RESOURCE_EXHAUSTED (RESUMABLE_CODES), from the last revision, resume_token
  or seq yielded, with the RetryPolicy's jittered backoff, and never yield anything twice.

Inside a command run by `tracking run`, `current_execution()` is a handle on the execution
it runs as (progress, outputs, result, steps, log lines, and metric points sent in the
background: `metric()`, `flush()`).
"""

from .async_client import AsyncTrackingClient
from .convert import EnumArg, enum_value, from_struct, from_value, to_struct, to_timestamp
from .current import CurrentExecution, NoCurrentExecution, current_execution
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
from .metric_batcher import MetricBatcher, MetricsNotStored
from .requests import DeploymentFields, DeploymentUpdate
from .resume import RESUMABLE_CODES
from .retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from .sync_client import TrackingClient

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_RETRY",
    "NO_RETRY",
    "RESUMABLE_CODES",
    "Aborted",
    "AlreadyExists",
    "AsyncTrackingClient",
    "CurrentExecution",
    "DeadlineExceeded",
    "DeploymentFields",
    "DeploymentUpdate",
    "EnumArg",
    "FailedPrecondition",
    "FieldViolation",
    "Internal",
    "InvalidArgument",
    "MetricBatcher",
    "MetricsNotStored",
    "NoCurrentExecution",
    "NotFound",
    "PermissionDenied",
    "RemoteException",
    "ResourceExhausted",
    "RetryPolicy",
    "TrackingClient",
    "Unauthenticated",
    "Unavailable",
    "current_execution",
    "enum_value",
    "from_rpc_error",
    "from_struct",
    "from_value",
    "to_struct",
    "to_timestamp",
]
