"""TrackingService: one servicer assembled from one module per resource."""

from __future__ import annotations

from tracking.service.api.deployments import DeploymentsApi
from tracking.service.api.executions import ExecutionsApi
from tracking.service.api.job_status import JobStatusApi
from tracking.service.api.logs import LogsApi
from tracking.service.api.metrics import MetricsApi
from tracking.service.api.service_info import ServiceInfoApi
from tracking.service.api.streams import StreamsApi
from tracking.service.api.subscriptions import SubscriptionsApi
from tracking.service.api.tokens import TokensApi
from tracking.service.domain.limits import Limits
from tracking.service.operations.deployments import Deployments
from tracking.service.operations.executions import Executions
from tracking.service.operations.logs import Logs
from tracking.service.operations.metrics import Metrics
from tracking.service.operations.streams import Streams
from tracking.service.operations.subscriptions import Subscriptions
from tracking.service.operations.tokens import Tokens
from tracking.v1 import tracking_service_pb2_grpc


# WatchStatus also yields pre-serialized responses (bytes), which the typed base does not allow.
class TrackingServicer(  # type: ignore[misc]
    DeploymentsApi,
    ExecutionsApi,
    JobStatusApi,
    LogsApi,
    MetricsApi,
    ServiceInfoApi,
    StreamsApi,
    SubscriptionsApi,
    TokensApi,
    tracking_service_pb2_grpc.TrackingServiceServicer,
):
    def __init__(
        self,
        deployments: Deployments,
        executions: Executions,
        logs: Logs,
        metrics: Metrics,
        streams: Streams,
        tokens: Tokens,
        subscriptions: Subscriptions,
        limits: Limits,
    ) -> None:
        self.deployments = deployments
        self.executions = executions
        self.logs = logs
        self.metrics = metrics
        self.streams = streams
        self.tokens = tokens
        self.subscriptions = subscriptions
        self.limits = limits
