"""The RPCs of TrackingService (their types, whether a retry is safe) and call settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from tracking.v1 import tracking_service_pb2 as pb

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)

DEFAULT_ADDRESS = "127.0.0.1:50051"


@dataclass(frozen=True)
class Method(Generic[Req, Resp]):
    """One RPC. `retryable`: repeating it cannot apply a change twice."""

    name: str
    request_type: type[Req]
    response_type: type[Resp]
    retryable: bool


CREATE_DEPLOYMENT = Method(
    "CreateDeployment", pb.CreateDeploymentRequest, pb.CreateDeploymentResponse, retryable=False
)
GET_DEPLOYMENT = Method(
    "GetDeployment", pb.GetDeploymentRequest, pb.GetDeploymentResponse, retryable=True
)
LIST_DEPLOYMENTS = Method(
    "ListDeployments", pb.ListDeploymentsRequest, pb.ListDeploymentsResponse, retryable=True
)
UPDATE_DEPLOYMENT = Method(
    "UpdateDeployment", pb.UpdateDeploymentRequest, pb.UpdateDeploymentResponse, retryable=False
)
DELETE_DEPLOYMENT = Method(
    "DeleteDeployment", pb.DeleteDeploymentRequest, pb.DeleteDeploymentResponse, retryable=False
)
# Safe to repeat: the request always carries a request_id the server deduplicates on.
CREATE_EXECUTION = Method(
    "CreateExecution", pb.CreateExecutionRequest, pb.CreateExecutionResponse, retryable=True
)
GET_EXECUTION = Method(
    "GetExecution", pb.GetExecutionRequest, pb.GetExecutionResponse, retryable=True
)
LIST_EXECUTIONS = Method(
    "ListExecutions", pb.ListExecutionsRequest, pb.ListExecutionsResponse, retryable=True
)
DELETE_EXECUTION = Method(
    "DeleteExecution", pb.DeleteExecutionRequest, pb.DeleteExecutionResponse, retryable=False
)
GET_EXECUTION_INPUT = Method(
    "GetExecutionInput", pb.GetExecutionInputRequest, pb.GetExecutionInputResponse, retryable=True
)
GET_EXECUTION_OUTPUT = Method(
    "GetExecutionOutput",
    pb.GetExecutionOutputRequest,
    pb.GetExecutionOutputResponse,
    retryable=True,
)
GET_JOB_STATUS = Method(
    "GetJobStatus", pb.GetJobStatusRequest, pb.GetJobStatusResponse, retryable=True
)
UPDATE_JOB_STATUS = Method(
    "UpdateJobStatus", pb.UpdateJobStatusRequest, pb.UpdateJobStatusResponse, retryable=False
)
CANCEL_EXECUTION = Method(
    "CancelExecution", pb.CancelExecutionRequest, pb.CancelExecutionResponse, retryable=False
)
SET_EXECUTION_OUTPUTS = Method(
    "SetExecutionOutputs",
    pb.SetExecutionOutputsRequest,
    pb.SetExecutionOutputsResponse,
    retryable=False,
)
UPDATE_STEP = Method("UpdateStep", pb.UpdateStepRequest, pb.UpdateStepResponse, retryable=False)
APPEND_LOGS = Method("AppendLogs", pb.AppendLogsRequest, pb.AppendLogsResponse, retryable=False)
GET_EXECUTION_LOGS = Method(
    "GetExecutionLogs", pb.GetExecutionLogsRequest, pb.GetExecutionLogsResponse, retryable=True
)
# Not retried: a batch repeated after an unknown outcome would be stored twice.
LOG_METRICS = Method("LogMetrics", pb.LogMetricsRequest, pb.LogMetricsResponse, retryable=False)
LIST_METRICS = Method("ListMetrics", pb.ListMetricsRequest, pb.ListMetricsResponse, retryable=True)
GET_METRIC_HISTORY = Method(
    "GetMetricHistory", pb.GetMetricHistoryRequest, pb.GetMetricHistoryResponse, retryable=True
)
GET_SERVICE_INFO = Method(
    "GetServiceInfo", pb.GetServiceInfoRequest, pb.GetServiceInfoResponse, retryable=True
)
# Tokens (admin). Listing is a read; creating or revoking twice would not be the same.
CREATE_TOKEN = Method("CreateToken", pb.CreateTokenRequest, pb.CreateTokenResponse, retryable=False)
LIST_TOKENS = Method("ListTokens", pb.ListTokensRequest, pb.ListTokensResponse, retryable=True)
REVOKE_TOKEN = Method("RevokeToken", pb.RevokeTokenRequest, pb.RevokeTokenResponse, retryable=False)

# Server-streaming; not retried as calls: resuming needs the stream's last cursor (see resume).
WATCH_STATUS = Method("WatchStatus", pb.WatchStatusRequest, pb.WatchStatusResponse, retryable=False)
STREAM_LOGS = Method("StreamLogs", pb.StreamLogsRequest, pb.StreamLogsResponse, retryable=False)
STREAM_METRICS = Method(
    "StreamMetrics", pb.StreamMetricsRequest, pb.StreamMetricsResponse, retryable=False
)


def call_metadata(token: str | None, traceparent: str | None) -> tuple[tuple[str, str], ...] | None:
    """Call metadata carrying the bearer token, if any, and the W3C trace context, if any
    (the server's spans then join that trace)."""
    pairs = []
    if token:
        pairs.append(("authorization", f"Bearer {token}"))
    if traceparent:
        pairs.append(("traceparent", traceparent.strip()))
    return tuple(pairs) or None


# Subscriptions (admin). Gets and lists are reads; the writes are not retried.
CREATE_SUBSCRIPTION = Method(
    "CreateSubscription",
    pb.CreateSubscriptionRequest,
    pb.CreateSubscriptionResponse,
    retryable=False,
)
GET_SUBSCRIPTION = Method(
    "GetSubscription", pb.GetSubscriptionRequest, pb.GetSubscriptionResponse, retryable=True
)
LIST_SUBSCRIPTIONS = Method(
    "ListSubscriptions", pb.ListSubscriptionsRequest, pb.ListSubscriptionsResponse, retryable=True
)
DELETE_SUBSCRIPTION = Method(
    "DeleteSubscription",
    pb.DeleteSubscriptionRequest,
    pb.DeleteSubscriptionResponse,
    retryable=False,
)
PAUSE_SUBSCRIPTION = Method(
    "PauseSubscription", pb.PauseSubscriptionRequest, pb.PauseSubscriptionResponse, retryable=False
)
RESUME_SUBSCRIPTION = Method(
    "ResumeSubscription",
    pb.ResumeSubscriptionRequest,
    pb.ResumeSubscriptionResponse,
    retryable=False,
)
LIST_DELIVERIES = Method(
    "ListDeliveries", pb.ListDeliveriesRequest, pb.ListDeliveriesResponse, retryable=True
)
TEST_SUBSCRIPTION = Method(
    "TestSubscription", pb.TestSubscriptionRequest, pb.TestSubscriptionResponse, retryable=False
)


# gRPC Python carries every channel to one address in a process on one shared connection
# unless told otherwise, and a connection holds as many streams as the peer allows: behind
# nginx (128 by default) the streams past that wait, with no error, until others end. So
# each client has a connection of its own, as separate processes would.
OWN_CONNECTION = ("grpc.use_local_subchannel_pool", 1)


def channel_options(options: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The caller's channel options, and a connection of the client's own unless they say."""
    given = {name for name, _ in options}
    return [*options, *([OWN_CONNECTION] if OWN_CONNECTION[0] not in given else [])]
