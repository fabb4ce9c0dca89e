"""Both clients against a scripted server: grpc_testing for the sync one, a real grpc.aio
server on port 0 for the async one.

These cover what a real tracking server cannot show: the exact requests, the token and the
deadline sent, retries on UNAVAILABLE, and errors in the middle of a stream. What a user sees
against the real server is in tests/integration/test_client.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import grpc
import grpc_testing
import pytest
from google.protobuf import any_pb2, duration_pb2, field_mask_pb2, struct_pb2, timestamp_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from tracking.client import (
    AsyncTrackingClient,
    DeadlineExceeded,
    FieldViolation,
    InvalidArgument,
    RetryPolicy,
    TrackingClient,
    Unavailable,
    methods,
)
from tracking.v1 import (
    auth_pb2,
    deployment_pb2,
    execution_pb2,
    io_pb2,
    metric_pb2,
    subscription_pb2,
)
from tracking.v1 import status_pb2 as job_status_pb2
from tracking.v1 import tracking_service_pb2 as pb

T = TypeVar("T")

SERVICE = pb.DESCRIPTOR.services_by_name["TrackingService"]
TOKEN = "s3cret"
AUTH = ("authorization", f"Bearer {TOKEN}")
TIMEOUT = 7.5
OK = grpc.StatusCode.OK
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(value)
    return result


def timestamp(text: str) -> timestamp_pb2.Timestamp:
    result = timestamp_pb2.Timestamp()
    result.FromJsonString(text)
    return result


def bad_request(message: str, *violations: tuple[str, str]) -> tuple[tuple[str, bytes], ...]:
    """Trailing metadata carrying a google.rpc.Status with a BadRequest."""
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
    return (("grpc-status-details-bin", data),)


# One call of each unary client method: what it sends, and what it returns for a response.

DEPLOYMENT = deployment_pb2.Deployment(name="nightly", pipeline_name="train")
EXECUTION = execution_pb2.Execution(execution_id="e1", deployment_name="nightly")
JOB_STATUS = job_status_pb2.JobStatus(status=job_status_pb2.RUNNING_STATUS_RUNNING, revision=3)
STEP = execution_pb2.Step(name="prep", status=job_status_pb2.RUNNING_STATUS_RUNNING)
LOG = execution_pb2.LogEntry(seq=1, message="hello")
STDOUT = execution_pb2.LOG_STREAM_STDOUT
SUBSCRIPTION = subscription_pb2.Subscription(subscription_id="sub_0123456789ab", name="ops")
DELIVERY = subscription_pb2.Delivery(event_id="evt_1", http_status=204, succeeded=True)
TOKEN_ROW = auth_pb2.ApiToken(token_id="tok_0123456789ab", name="ci-bot", role=auth_pb2.ROLE_WRITER)


@dataclass(frozen=True)
class Case:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    rpc: str
    request: Message
    response: Message
    result: Any = None

    @property
    def expected(self) -> Any:
        return self.response if self.result is None else self.result


CASES = [
    Case(
        "create_deployment",
        ("nightly", "train", "periodic"),
        {"schedule": "0 3 * * *", "labels": {"team": "ml"}, "mode": "low_latency"},
        "CreateDeployment",
        pb.CreateDeploymentRequest(
            deployment=deployment_pb2.Deployment(
                name="nightly",
                pipeline_name="train",
                execution_rule=deployment_pb2.EXECUTION_RULE_PERIODIC,
                schedule="0 3 * * *",
                labels={"team": "ml"},
                mode=deployment_pb2.DEPLOYMENT_MODE_LOW_LATENCY,
                is_enabled=True,
            )
        ),
        pb.CreateDeploymentResponse(deployment=DEPLOYMENT),
        DEPLOYMENT,
    ),
    Case(
        "get_deployment",
        ("nightly",),
        {},
        "GetDeployment",
        pb.GetDeploymentRequest(name="nightly"),
        pb.GetDeploymentResponse(deployment=DEPLOYMENT),
        DEPLOYMENT,
    ),
    Case(
        "list_deployments_page",
        (),
        {"filter": "is_enabled = true", "page_size": 2, "page_token": "p2"},
        "ListDeployments",
        pb.ListDeploymentsRequest(filter="is_enabled = true", page_size=2, page_token="p2"),
        pb.ListDeploymentsResponse(deployments=[DEPLOYMENT], next_page_token="p3"),
        ([DEPLOYMENT], "p3"),
    ),
    Case(
        "update_deployment",
        ("nightly",),
        {"description": "d", "is_enabled": False},
        "UpdateDeployment",
        pb.UpdateDeploymentRequest(
            deployment=deployment_pb2.Deployment(name="nightly", description="d", is_enabled=False),
            update_mask=field_mask_pb2.FieldMask(paths=["description", "is_enabled"]),
        ),
        pb.UpdateDeploymentResponse(deployment=DEPLOYMENT),
        DEPLOYMENT,
    ),
    Case(
        "delete_deployment",
        ("nightly",),
        {},
        "DeleteDeployment",
        pb.DeleteDeploymentRequest(name="nightly"),
        pb.DeleteDeploymentResponse(name="nightly", deleted_execution_count=2),
    ),
    Case(
        "create_execution",
        (),
        {"deployment_name": "nightly", "job_type": "TRAIN", "request_id": "r1"},
        "CreateExecution",
        pb.CreateExecutionRequest(
            execution=execution_pb2.Execution(
                deployment_name="nightly", job_type=execution_pb2.JOB_TYPE_TRAIN
            ),
            request_id="r1",
        ),
        pb.CreateExecutionResponse(execution=EXECUTION),
        EXECUTION,
    ),
    Case(
        "get_execution",
        ("e1",),
        {},
        "GetExecution",
        pb.GetExecutionRequest(execution_id="e1"),
        pb.GetExecutionResponse(execution=EXECUTION),
        EXECUTION,
    ),
    Case(
        "list_executions_page",
        (),
        {"filter": 'deployment_name = "nightly"'},
        "ListExecutions",
        pb.ListExecutionsRequest(filter='deployment_name = "nightly"'),
        pb.ListExecutionsResponse(executions=[EXECUTION]),
        ([EXECUTION], ""),
    ),
    Case(
        "delete_execution",
        ("e1",),
        {},
        "DeleteExecution",
        pb.DeleteExecutionRequest(execution_id="e1"),
        pb.DeleteExecutionResponse(execution_id="e1"),
    ),
    Case(
        "get_execution_input",
        ("e1", "x"),
        {},
        "GetExecutionInput",
        pb.GetExecutionInputRequest(execution_id="e1", input_name="x"),
        pb.GetExecutionInputResponse(input=io_pb2.ExecutionInput(name="x")),
        io_pb2.ExecutionInput(name="x"),
    ),
    Case(
        "get_execution_output",
        ("e1", "y"),
        {},
        "GetExecutionOutput",
        pb.GetExecutionOutputRequest(execution_id="e1", output_name="y"),
        pb.GetExecutionOutputResponse(output=io_pb2.ExecutionOutput(name="y")),
        io_pb2.ExecutionOutput(name="y"),
    ),
    Case(
        "get_job_status",
        ("e1",),
        {},
        "GetJobStatus",
        pb.GetJobStatusRequest(execution_id="e1"),
        pb.GetJobStatusResponse(job_status=JOB_STATUS),
        JOB_STATUS,
    ),
    Case(
        "start",
        ("e1",),
        {"phase": "loading", "expected_revision": 1},
        "UpdateJobStatus",
        pb.UpdateJobStatusRequest(
            execution_id="e1", start=pb.StartAction(phase="loading"), expected_revision=1
        ),
        pb.UpdateJobStatusResponse(job_status=JOB_STATUS),
        JOB_STATUS,
    ),
    Case(
        "update_progress",
        ("e1", 0.5),
        {"phase": "training"},
        "UpdateJobStatus",
        pb.UpdateJobStatusRequest(
            execution_id="e1", progress=pb.ProgressAction(progress=0.5, phase="training")
        ),
        pb.UpdateJobStatusResponse(job_status=JOB_STATUS),
        JOB_STATUS,
    ),
    Case(
        "suspend",
        ("e1",),
        {"reason": "maintenance"},
        "UpdateJobStatus",
        pb.UpdateJobStatusRequest(
            execution_id="e1", suspend=pb.SuspendAction(reason="maintenance")
        ),
        pb.UpdateJobStatusResponse(job_status=JOB_STATUS),
        JOB_STATUS,
    ),
    Case(
        "resume",
        ("e1",),
        {},
        "UpdateJobStatus",
        pb.UpdateJobStatusRequest(execution_id="e1", resume=pb.ResumeAction()),
        pb.UpdateJobStatusResponse(job_status=JOB_STATUS),
        JOB_STATUS,
    ),
    Case(
        "stop",
        ("e1", "error", "out of memory"),
        {"expected_revision": 9},
        "UpdateJobStatus",
        pb.UpdateJobStatusRequest(
            execution_id="e1",
            stop=pb.StopAction(cause=job_status_pb2.RUNNING_STATUS_ERROR, message="out of memory"),
            expected_revision=9,
        ),
        pb.UpdateJobStatusResponse(job_status=JOB_STATUS),
        JOB_STATUS,
    ),
    Case(
        "set_times",
        ("e1",),
        {
            "start_time": dt.datetime(2026, 1, 1, 12, 0, 1),
            "duration": dt.timedelta(seconds=37.5),
        },
        "UpdateJobStatus",
        pb.UpdateJobStatusRequest(
            execution_id="e1",
            times=pb.TimesAction(
                start_time=timestamp_pb2.Timestamp(seconds=1767268801),
                duration=duration_pb2.Duration(seconds=37, nanos=500_000_000),
            ),
        ),
        pb.UpdateJobStatusResponse(job_status=JOB_STATUS),
        JOB_STATUS,
    ),
    Case(
        "cancel_execution",
        ("e1",),
        {"reason": "not needed"},
        "CancelExecution",
        pb.CancelExecutionRequest(execution_id="e1", reason="not needed"),
        pb.CancelExecutionResponse(job_status=JOB_STATUS),
        JOB_STATUS,
    ),
    Case(
        "set_execution_outputs",
        ("e1",),
        {"result": {"accuracy": 0.9}, "export_paths": {"predictions": "s3://p"}},
        "SetExecutionOutputs",
        pb.SetExecutionOutputsRequest(
            execution_id="e1",
            result=struct({"accuracy": 0.9}),
            export_paths={"predictions": "s3://p"},
        ),
        pb.SetExecutionOutputsResponse(execution=EXECUTION),
        EXECUTION,
    ),
    Case(
        "update_step",
        ("e1", STEP),
        {},
        "UpdateStep",
        pb.UpdateStepRequest(execution_id="e1", step=STEP),
        pb.UpdateStepResponse(step=STEP, revision=4),
        STEP,
    ),
    Case(
        "append_logs",
        ("e1", ["hello\n", "world"]),
        {},
        "AppendLogs",
        pb.AppendLogsRequest(
            execution_id="e1",
            entries=[
                execution_pb2.LogEntry(stream=STDOUT, message="hello"),
                execution_pb2.LogEntry(stream=STDOUT, message="world"),
            ],
        ),
        pb.AppendLogsResponse(last_seq=12),
        12,
    ),
    Case(
        "get_execution_logs",
        ("e1",),
        {"from_time": dt.datetime(2026, 1, 1, 8, 30), "stream": "stdout", "limit": 100},
        "GetExecutionLogs",
        pb.GetExecutionLogsRequest(
            execution_id="e1",
            from_time=timestamp("2026-01-01T08:30:00Z"),
            stream=STDOUT,
            limit=100,
        ),
        pb.GetExecutionLogsResponse(entries=[LOG]),
        [LOG],
    ),
    Case(
        "log_metrics",
        ("e1", [("loss", 0.5), ("loss", 0.4, 7)]),
        {},
        "LogMetrics",
        pb.LogMetricsRequest(
            execution_id="e1",
            points=[
                metric_pb2.MetricPoint(name="loss", value=0.5),
                metric_pb2.MetricPoint(name="loss", value=0.4, step=7),
            ],
        ),
        pb.LogMetricsResponse(last_seq=2),
        2,
    ),
    Case(
        "list_metrics",
        ("e1",),
        {},
        "ListMetrics",
        pb.ListMetricsRequest(execution_id="e1"),
        pb.ListMetricsResponse(series=[metric_pb2.MetricSeries(name="loss", count=2)], last_seq=2),
    ),
    Case(
        "get_metric_history",
        (["e1", "e2"], "loss"),
        {"start_step": 0, "max_points": 50},
        "GetMetricHistory",
        pb.GetMetricHistoryRequest(
            execution_ids=["e1", "e2"], name="loss", start_step=0, max_points=50
        ),
        pb.GetMetricHistoryResponse(histories=[metric_pb2.MetricHistory(execution_id="e1")]),
    ),
    Case(
        "service_info",
        (),
        {},
        "GetServiceInfo",
        pb.GetServiceInfoRequest(),
        pb.GetServiceInfoResponse(version="1.2.3", max_log_line_chars=65536),
    ),
    Case(
        "create_token",
        ("ci-bot", "writer"),
        {},
        "CreateToken",
        pb.CreateTokenRequest(name="ci-bot", role=auth_pb2.ROLE_WRITER),
        pb.CreateTokenResponse(token=TOKEN_ROW, secret="tok_0123456789ab.secret"),
    ),
    Case(
        "list_tokens",
        (),
        {"include_revoked": True},
        "ListTokens",
        pb.ListTokensRequest(include_revoked=True),
        pb.ListTokensResponse(tokens=[TOKEN_ROW]),
        [TOKEN_ROW],
    ),
    Case(
        "revoke_token",
        ("tok_0123456789ab",),
        {},
        "RevokeToken",
        pb.RevokeTokenRequest(token_id="tok_0123456789ab"),
        pb.RevokeTokenResponse(token=TOKEN_ROW),
        TOKEN_ROW,
    ),
    Case(
        "create_subscription",
        ("ops",),
        {
            "webhook": "https://hooks.example.com/tracking",
            "deployments": ["train"],
            "kinds": ["execution_status_changed"],
            "statuses": ["success", "error"],
            "request_id": "r1",
        },
        "CreateSubscription",
        pb.CreateSubscriptionRequest(
            subscription=subscription_pb2.Subscription(
                name="ops",
                webhook=subscription_pb2.WebhookTarget(url="https://hooks.example.com/tracking"),
                filter=subscription_pb2.SubscriptionFilter(
                    deployment_names=["train"],
                    kinds=[subscription_pb2.EVENT_KIND_EXECUTION_STATUS_CHANGED],
                    statuses=[
                        job_status_pb2.RUNNING_STATUS_SUCCESS,
                        job_status_pb2.RUNNING_STATUS_ERROR,
                    ],
                ),
            ),
            request_id="r1",
        ),
        pb.CreateSubscriptionResponse(subscription=SUBSCRIPTION, secret="whsec_x"),
    ),
    Case(
        "get_subscription",
        ("sub_0123456789ab",),
        {},
        "GetSubscription",
        pb.GetSubscriptionRequest(subscription_id="sub_0123456789ab"),
        pb.GetSubscriptionResponse(subscription=SUBSCRIPTION),
        SUBSCRIPTION,
    ),
    Case(
        "list_subscriptions",
        (),
        {},
        "ListSubscriptions",
        pb.ListSubscriptionsRequest(),
        pb.ListSubscriptionsResponse(subscriptions=[SUBSCRIPTION]),
        [SUBSCRIPTION],
    ),
    Case(
        "delete_subscription",
        ("sub_0123456789ab",),
        {},
        "DeleteSubscription",
        pb.DeleteSubscriptionRequest(subscription_id="sub_0123456789ab"),
        pb.DeleteSubscriptionResponse(),
    ),
    Case(
        "pause_subscription",
        ("sub_0123456789ab",),
        {},
        "PauseSubscription",
        pb.PauseSubscriptionRequest(subscription_id="sub_0123456789ab"),
        pb.PauseSubscriptionResponse(subscription=SUBSCRIPTION),
        SUBSCRIPTION,
    ),
    Case(
        "resume_subscription",
        ("sub_0123456789ab",),
        {},
        "ResumeSubscription",
        pb.ResumeSubscriptionRequest(subscription_id="sub_0123456789ab"),
        pb.ResumeSubscriptionResponse(subscription=SUBSCRIPTION),
        SUBSCRIPTION,
    ),
    Case(
        "list_deliveries",
        ("sub_0123456789ab",),
        {"page_size": 5},
        "ListDeliveries",
        pb.ListDeliveriesRequest(subscription_id="sub_0123456789ab", page_size=5),
        pb.ListDeliveriesResponse(deliveries=[DELIVERY]),
        [DELIVERY],
    ),
    Case(
        "test_subscription",
        ("sub_0123456789ab",),
        {},
        "TestSubscription",
        pb.TestSubscriptionRequest(subscription_id="sub_0123456789ab"),
        pb.TestSubscriptionResponse(delivery=DELIVERY),
        DELIVERY,
    ),
]


def test_cases_cover_every_unary_rpc() -> None:
    unary = {m.name for m in SERVICE.methods if not m.server_streaming}
    assert {case.rpc for case in CASES} == unary


def test_method_table_matches_the_service() -> None:
    table = [v for v in vars(methods).values() if isinstance(v, methods.Method)]
    assert {method.name for method in table} == set(SERVICE.methods_by_name)
    for method in table:
        descriptor = SERVICE.methods_by_name[method.name]
        assert descriptor.input_type is method.request_type.DESCRIPTOR
        assert descriptor.output_type is method.response_type.DESCRIPTOR
    retryable = {method.name for method in table if method.retryable}
    reads = {name for name in SERVICE.methods_by_name if name.startswith(("Get", "List"))}
    assert retryable == reads | {"CreateExecution"}


def test_both_clients_have_the_same_methods() -> None:
    def public(cls: type) -> set[str]:
        return {name for name in vars(cls) if not name.startswith("_")}

    assert public(TrackingClient) == public(AsyncTrackingClient)
    for case in CASES:
        assert inspect.iscoroutinefunction(getattr(AsyncTrackingClient, case.method))


# Sync client on a grpc_testing channel.


class DeadlineRecorder:
    """Wraps a channel and records the deadline of every call."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._channel = channel
        self.timeouts: list[tuple[str, float | None]] = []

    def _wrap(self, method: str, inner: Callable[..., Any]) -> Callable[..., Any]:
        def call(request: Message, timeout: float | None = None, metadata: Any = None) -> Any:
            self.timeouts.append((method.rsplit("/", 1)[1], timeout))
            return inner(request, timeout=timeout, metadata=metadata)

        return call

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return self._wrap(method, self._channel.unary_unary(method, *args, **kwargs))

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return self._wrap(method, self._channel.unary_stream(method, *args, **kwargs))


class ScriptedServer:
    """Plays the server of a TrackingClient that runs on a worker thread."""

    def __init__(self, token: str | None = TOKEN) -> None:
        self.channel = grpc_testing.channel([SERVICE], grpc_testing.strict_real_time())
        self.recorder = DeadlineRecorder(self.channel)
        self.sleeps: list[float] = []
        policy = RetryPolicy(initial_backoff=0.5, sleep=self.sleeps.append, rand=lambda: 1.0)
        self.client = TrackingClient.from_channel(
            cast(grpc.Channel, self.recorder), timeout=TIMEOUT, token=token, retry=policy
        )
        self.pool = ThreadPoolExecutor(max_workers=1)

    def run(self, call: Callable[[], T]) -> Future[T]:
        return self.pool.submit(call)

    def answer(
        self,
        rpc: str,
        response: Message | None = None,
        code: grpc.StatusCode = OK,
        details: str = "",
        trailing: tuple[tuple[str, str | bytes], ...] = (),
    ) -> tuple[Any, Message]:
        """Take the next call of `rpc`, answer it; return its metadata and request."""
        metadata, request, rpc_state = self.channel.take_unary_unary(SERVICE.methods_by_name[rpc])
        rpc_state.terminate(response, trailing, code, details)
        return metadata, request


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.pool.shutdown(wait=False, cancel_futures=True)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.method)
def test_sync_method(scripted: ScriptedServer, case: Case) -> None:
    future = scripted.run(lambda: getattr(scripted.client, case.method)(*case.args, **case.kwargs))
    metadata, request = scripted.answer(case.rpc, case.response)
    assert request == case.request
    assert future.result() == case.expected
    assert AUTH in metadata
    assert scripted.recorder.timeouts == [(case.rpc, TIMEOUT)]


def test_sync_without_token_sends_no_authorization() -> None:
    srv = ScriptedServer(token=None)
    future = srv.run(lambda: srv.client.get_execution("e1"))
    metadata, _ = srv.answer("GetExecution", pb.GetExecutionResponse(execution=EXECUTION))
    future.result()
    assert all(key != "authorization" for key, _ in metadata)
    srv.pool.shutdown()


def test_sync_read_is_retried_on_unavailable(scripted: ScriptedServer) -> None:
    future = scripted.run(lambda: scripted.client.get_execution("e1"))
    scripted.answer("GetExecution", code=UNAVAILABLE, details="restarting")
    scripted.answer("GetExecution", code=UNAVAILABLE, details="restarting")
    scripted.answer("GetExecution", pb.GetExecutionResponse(execution=EXECUTION))
    assert future.result() == EXECUTION
    assert scripted.sleeps == [0.5, 1.0]


def test_sync_retries_are_bounded(scripted: ScriptedServer) -> None:
    future = scripted.run(lambda: scripted.client.get_job_status("e1"))
    for _ in range(4):
        scripted.answer("GetJobStatus", code=UNAVAILABLE, details="down")
    with pytest.raises(Unavailable, match="UNAVAILABLE: down"):
        future.result()
    assert scripted.sleeps == [0.5, 1.0, 2.0]


def test_sync_create_execution_retry_reuses_the_generated_request_id(
    scripted: ScriptedServer,
) -> None:
    future = scripted.run(lambda: scripted.client.create_execution(deployment_name="nightly"))
    _, first = scripted.answer("CreateExecution", code=UNAVAILABLE)
    _, second = scripted.answer("CreateExecution", pb.CreateExecutionResponse(execution=EXECUTION))
    assert future.result() == EXECUTION
    assert isinstance(first, pb.CreateExecutionRequest)
    assert first.request_id
    assert second == first


@pytest.mark.parametrize(
    ("call", "rpc"),
    [
        (lambda c: c.append_logs("e1", ["x"]), "AppendLogs"),
        (lambda c: c.stop("e1"), "UpdateJobStatus"),
        (lambda c: c.cancel_execution("e1"), "CancelExecution"),
        (lambda c: c.update_deployment("nightly", description="d"), "UpdateDeployment"),
        (lambda c: c.delete_execution("e1"), "DeleteExecution"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_sync_writes_without_request_id_are_not_retried(
    scripted: ScriptedServer, call: Callable[[TrackingClient], Any], rpc: str
) -> None:
    future = scripted.run(lambda: call(scripted.client))
    scripted.answer(rpc, code=UNAVAILABLE, details="down")
    # Raising at once shows there was no second attempt (which would wait for an answer).
    with pytest.raises(Unavailable):
        future.result(timeout=60)
    assert scripted.sleeps == []
    assert len(scripted.recorder.timeouts) == 1


def test_sync_deadline_exceeded_is_not_retried(scripted: ScriptedServer) -> None:
    future = scripted.run(lambda: scripted.client.get_execution("e1"))
    scripted.answer("GetExecution", code=grpc.StatusCode.DEADLINE_EXCEEDED, details="slow")
    with pytest.raises(DeadlineExceeded):
        future.result(timeout=60)
    assert scripted.sleeps == []


def test_sync_bad_request_becomes_invalid_argument(scripted: ScriptedServer) -> None:
    future = scripted.run(lambda: scripted.client.get_execution("-bad"))
    trailing = bad_request("invalid request", ("execution_id", "must start with a letter"))
    scripted.answer(
        "GetExecution",
        code=grpc.StatusCode.INVALID_ARGUMENT,
        details="invalid request",
        trailing=trailing,
    )
    with pytest.raises(InvalidArgument) as caught:
        future.result()
    assert caught.value.field_violations == [
        FieldViolation("execution_id", "must start with a letter")
    ]
    assert isinstance(caught.value.__cause__, grpc.RpcError)


def test_sync_list_deployments_follows_page_tokens(scripted: ScriptedServer) -> None:
    a, b, c = (deployment_pb2.Deployment(name=n) for n in "abc")
    future = scripted.run(lambda: list(scripted.client.list_deployments(filter="f", page_size=2)))
    _, first = scripted.answer(
        "ListDeployments", pb.ListDeploymentsResponse(deployments=[a, b], next_page_token="t2")
    )
    _, second = scripted.answer("ListDeployments", pb.ListDeploymentsResponse(deployments=[c]))
    assert future.result() == [a, b, c]
    assert first == pb.ListDeploymentsRequest(filter="f", page_size=2)
    assert second == pb.ListDeploymentsRequest(filter="f", page_size=2, page_token="t2")


def test_sync_list_executions_follows_page_tokens(scripted: ScriptedServer) -> None:
    e1, e2 = (execution_pb2.Execution(execution_id=n) for n in ("e1", "e2"))
    future = scripted.run(lambda: list(scripted.client.list_executions()))
    scripted.answer(
        "ListExecutions", pb.ListExecutionsResponse(executions=[e1], next_page_token="t")
    )
    _, second = scripted.answer("ListExecutions", pb.ListExecutionsResponse(executions=[e2]))
    assert future.result() == [e1, e2]
    assert second == pb.ListExecutionsRequest(page_token="t")


HEARTBEAT = pb.WatchStatusResponse(heartbeat=pb.Heartbeat())
EVENT = pb.WatchStatusResponse(
    event=execution_pb2.ExecutionEvent(execution_id="e1", revision=3, snapshot=True)
)


def test_sync_watch_status_yields_every_response(scripted: ScriptedServer) -> None:
    future = scripted.run(lambda: list(scripted.client.watch_status(execution_id="e1")))
    metadata, request, rpc = scripted.channel.take_unary_stream(
        SERVICE.methods_by_name["WatchStatus"]
    )
    rpc.send_response(EVENT)
    rpc.send_response(HEARTBEAT)
    rpc.terminate((), OK, "")
    assert future.result() == [EVENT, HEARTBEAT]
    assert request == pb.WatchStatusRequest(execution_id="e1")
    assert AUTH in metadata
    assert scripted.recorder.timeouts == [("WatchStatus", None)]


def test_sync_stream_error_becomes_remote_exception(scripted: ScriptedServer) -> None:
    received: list[pb.StreamLogsResponse] = []
    got_one = threading.Event()

    def consume() -> None:
        for response in scripted.client.stream_logs("e1", follow=True, after_seq=4):
            received.append(response)
            got_one.set()

    future = scripted.run(consume)
    _, request, rpc = scripted.channel.take_unary_stream(SERVICE.methods_by_name["StreamLogs"])
    batch = pb.StreamLogsResponse(entries=[LOG])
    rpc.send_response(batch)
    # grpc_testing drops responses not yet read when the call fails: let the client read first.
    assert got_one.wait(timeout=60)
    rpc.terminate((), UNAVAILABLE, "shutting down")
    with pytest.raises(Unavailable, match="shutting down"):
        future.result()
    assert received == [batch]
    assert request == pb.StreamLogsRequest(execution_id="e1", follow=True, after_seq=4)


def test_sync_stream_is_cancelled_when_the_caller_stops(scripted: ScriptedServer) -> None:
    def first() -> pb.WatchStatusResponse:
        stream = scripted.client.watch_status(deployment_name="nightly", timeout=30.0)
        response = next(stream)
        stream.close()  # what a `break` out of a for loop does, once the generator is collected
        return response

    future = scripted.run(first)
    _, _, rpc = scripted.channel.take_unary_stream(SERVICE.methods_by_name["WatchStatus"])
    rpc.send_response(EVENT)
    assert future.result() == EVENT
    rpc.cancelled()  # returns once the client has cancelled the call
    assert scripted.recorder.timeouts == [("WatchStatus", 30.0)]


def test_sync_client_closes_the_channel_it_created() -> None:
    with TrackingClient("127.0.0.1:1", token=TOKEN) as client:
        assert client._owns_channel
    with pytest.raises(ValueError, match="closed"):
        client.get_execution("e1")


# Async client against a real grpc.aio server on port 0, whose answers each test scripts.

METHOD_TABLE = [v for v in vars(methods).values() if isinstance(v, methods.Method)]


@dataclass(frozen=True)
class Fail:
    """A scripted failure: the server ends the call with this status."""

    code: grpc.StatusCode
    details: str = ""


@dataclass(frozen=True)
class Stream:
    """A scripted server stream: these responses, then `error`, or (hold) no end at all."""

    responses: tuple[Message, ...]
    error: Fail | None = None
    hold: bool = False


Answer = Message | Fail | Stream


@dataclass(frozen=True)
class Received:
    """One call as the server saw it."""

    rpc: str
    request: Message
    metadata: dict[str, str | bytes]
    time_remaining: float | None


class ScriptedAioServer:
    """A grpc.aio server that answers each RPC from its script, in order, and records calls.

    A call with nothing left in its script fails with INTERNAL "unscripted".
    """

    def __init__(self) -> None:
        self.script: dict[str, list[Answer]] = defaultdict(list)
        self.received: list[Received] = []
        self.stream_ended = asyncio.Event()  # set when a held stream is cancelled by the client
        self.server = grpc.aio.server()
        handlers = {method.name: self._handler(method) for method in METHOD_TABLE}
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),)
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def answer(self, rpc: str, *answers: Answer) -> None:
        self.script[rpc].extend(answers)

    def requests(self, rpc: str) -> list[Message]:
        return [call.request for call in self.received if call.rpc == rpc]

    async def _take(
        self, rpc: str, request: Message, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Answer:
        metadata = dict(context.invocation_metadata() or ())
        self.received.append(Received(rpc, request, metadata, context.time_remaining()))
        if not self.script[rpc]:
            await context.abort(grpc.StatusCode.INTERNAL, f"unscripted call of {rpc}")
        return self.script[rpc].pop(0)

    def _handler(self, method: methods.Method[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
        rpc = method.name

        async def unary(request: Message, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
            answer = await self._take(rpc, request, context)
            if isinstance(answer, Fail):
                await context.abort(answer.code, answer.details)
            assert isinstance(answer, Message)
            return answer

        async def stream(
            request: Message, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Message]:
            answer = await self._take(rpc, request, context)
            assert isinstance(answer, Stream)
            for response in answer.responses:
                yield response
            if answer.error is not None:
                await context.abort(answer.error.code, answer.error.details)
            if answer.hold:
                try:
                    await asyncio.Event().wait()  # only the client's cancel ends this
                finally:
                    self.stream_ended.set()

        kwargs = {
            "request_deserializer": method.request_type.FromString,
            "response_serializer": method.response_type.SerializeToString,
        }
        if SERVICE.methods_by_name[rpc].server_streaming:
            return grpc.unary_stream_rpc_method_handler(stream, **kwargs)
        return grpc.unary_unary_rpc_method_handler(unary, **kwargs)


@dataclass
class AioScripted:
    server: ScriptedAioServer
    client: AsyncTrackingClient
    sleeps: list[float]


@pytest.fixture
async def aio_scripted() -> AsyncIterator[AioScripted]:
    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    server = ScriptedAioServer()
    await server.server.start()
    policy = RetryPolicy(initial_backoff=0.5, async_sleep=sleep, rand=lambda: 1.0)
    client = AsyncTrackingClient(server.address, timeout=TIMEOUT, token=TOKEN, retry=policy)
    try:
        yield AioScripted(server, client, sleeps)
    finally:
        await client.close()
        await server.server.stop(None)


def assert_sent_with_token_and_deadline(call: Received, deadline: float) -> None:
    assert call.metadata.get("authorization") == f"Bearer {TOKEN}"
    assert call.time_remaining is not None
    # gRPC rounds a deadline up when it encodes it: allow a little over, not the default's 10 s.
    assert 0 < call.time_remaining <= deadline + 1


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.method)
async def test_async_method(aio_scripted: AioScripted, case: Case) -> None:
    aio_scripted.server.answer(case.rpc, case.response)
    result = await getattr(aio_scripted.client, case.method)(*case.args, **case.kwargs)
    assert result == case.expected
    [call] = aio_scripted.server.received
    assert (call.rpc, call.request) == (case.rpc, case.request)
    assert_sent_with_token_and_deadline(call, TIMEOUT)


async def test_async_without_token_sends_no_authorization(aio_scripted: AioScripted) -> None:
    aio_scripted.server.answer("GetExecution", pb.GetExecutionResponse(execution=EXECUTION))
    async with AsyncTrackingClient(aio_scripted.server.address) as client:
        assert await client.get_execution("e1") == EXECUTION
    [call] = aio_scripted.server.received
    assert "authorization" not in call.metadata


async def test_async_read_is_retried_on_unavailable(aio_scripted: AioScripted) -> None:
    aio_scripted.server.answer(
        "GetJobStatus",
        Fail(UNAVAILABLE, "restarting"),
        Fail(UNAVAILABLE, "restarting"),
        pb.GetJobStatusResponse(job_status=JOB_STATUS),
    )
    assert await aio_scripted.client.get_job_status("e1") == JOB_STATUS
    assert aio_scripted.sleeps == [0.5, 1.0]
    assert (
        aio_scripted.server.requests("GetJobStatus")
        == [pb.GetJobStatusRequest(execution_id="e1")] * 3
    )


async def test_async_retries_are_bounded(aio_scripted: AioScripted) -> None:
    aio_scripted.server.answer("GetExecution", *[Fail(UNAVAILABLE, "down")] * 4)
    with pytest.raises(Unavailable, match="UNAVAILABLE: down"):
        await aio_scripted.client.get_execution("e1")
    assert aio_scripted.sleeps == [0.5, 1.0, 2.0]
    assert len(aio_scripted.server.received) == 4


async def test_async_create_execution_retry_reuses_the_generated_request_id(
    aio_scripted: AioScripted,
) -> None:
    aio_scripted.server.answer(
        "CreateExecution", Fail(UNAVAILABLE), pb.CreateExecutionResponse(execution=EXECUTION)
    )
    assert await aio_scripted.client.create_execution(pipeline_name="train") == EXECUTION
    first, second = aio_scripted.server.requests("CreateExecution")
    assert isinstance(first, pb.CreateExecutionRequest)
    assert first.request_id
    assert second == first


@pytest.mark.parametrize(
    ("call", "rpc"),
    [
        (lambda c: c.append_logs("e1", ["x"]), "AppendLogs"),
        (lambda c: c.stop("e1"), "UpdateJobStatus"),
        (lambda c: c.cancel_execution("e1"), "CancelExecution"),
        (lambda c: c.update_deployment("nightly", description="d"), "UpdateDeployment"),
        (lambda c: c.delete_execution("e1"), "DeleteExecution"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_async_writes_without_request_id_are_not_retried(
    aio_scripted: AioScripted,
    call: Callable[[AsyncTrackingClient], Awaitable[Any]],
    rpc: str,
) -> None:
    aio_scripted.server.answer(rpc, Fail(UNAVAILABLE, "down"))
    # A second attempt would reach the server and fail as unscripted (INTERNAL), not UNAVAILABLE.
    with pytest.raises(Unavailable, match="down"):
        await call(aio_scripted.client)
    assert aio_scripted.sleeps == []
    assert len(aio_scripted.server.received) == 1


async def test_async_deadline_exceeded_is_not_retried(aio_scripted: AioScripted) -> None:
    aio_scripted.server.answer("GetExecution", Fail(grpc.StatusCode.DEADLINE_EXCEEDED, "slow"))
    with pytest.raises(DeadlineExceeded):
        await aio_scripted.client.get_execution("e1")
    assert aio_scripted.sleeps == []
    assert len(aio_scripted.server.received) == 1


async def test_async_watch_status_yields_every_response(aio_scripted: AioScripted) -> None:
    aio_scripted.server.answer("WatchStatus", Stream((EVENT, HEARTBEAT)))
    stream = aio_scripted.client.watch_status(execution_id="e1", after_revision=2)
    assert [r async for r in stream] == [EVENT, HEARTBEAT]
    [call] = aio_scripted.server.received
    assert call.request == pb.WatchStatusRequest(execution_id="e1", after_revision=2)
    assert call.metadata.get("authorization") == f"Bearer {TOKEN}"
    assert call.time_remaining is None  # streams have no deadline unless given one


async def test_async_stream_error_becomes_remote_exception(aio_scripted: AioScripted) -> None:
    batch = pb.StreamLogsResponse(entries=[LOG])
    aio_scripted.server.answer("StreamLogs", Stream((batch,), Fail(UNAVAILABLE, "shutting down")))
    received: list[pb.StreamLogsResponse] = []

    async def consume() -> None:
        async for response in aio_scripted.client.stream_logs("e1", tail=10, stream="stderr"):
            received.append(response)

    with pytest.raises(Unavailable, match="shutting down") as caught:
        await consume()
    assert received == [batch]
    assert isinstance(caught.value.__cause__, grpc.RpcError)
    assert aio_scripted.server.requests("StreamLogs") == [
        pb.StreamLogsRequest(execution_id="e1", tail=10, stream=execution_pb2.LOG_STREAM_STDERR)
    ]


async def test_async_stream_is_cancelled_when_the_caller_stops(aio_scripted: AioScripted) -> None:
    aio_scripted.server.answer("WatchStatus", Stream((EVENT,), hold=True))
    stream = aio_scripted.client.watch_status(deployment_name="nightly", timeout=30.0)
    assert await anext(stream) == EVENT
    await stream.aclose()
    # The server's handler ends only when the client cancels the call; the bound fails a hang.
    await asyncio.wait_for(aio_scripted.server.stream_ended.wait(), timeout=60)
    [call] = aio_scripted.server.received
    assert_sent_with_token_and_deadline(call, 30.0)


async def test_async_client_closes_the_channel_it_created() -> None:
    async with AsyncTrackingClient("127.0.0.1:1") as client:
        assert client._owns_channel
    with pytest.raises(grpc.aio.UsageError, match="closed"):
        await client.get_execution("e1")
