"""Authentication, roles, revocation and rate limits: every RPC, every kind of caller."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
import pytest
from google.protobuf.message import Message

from tests.conftest import ServerFactory
from tests.support.factories import new_token
from tests.support.server import ServerThread
from tracking.service.wrapping import SERVICE_PREFIX
from tracking.v1 import auth_pb2
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import metric_pb2 as mpb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

SERVICE = pb.DESCRIPTOR.services_by_name["TrackingService"]
MISSING = "missing-execution"

# A request for every RPC that the handler would refuse or answer without changing anything:
# reaching the handler shows as INVALID_ARGUMENT / NOT_FOUND / OK, never as an auth code.
REQUESTS: dict[str, Message] = {
    "CreateDeployment": pb.CreateDeploymentRequest(),
    "GetDeployment": pb.GetDeploymentRequest(name="missing"),
    "ListDeployments": pb.ListDeploymentsRequest(),
    "UpdateDeployment": pb.UpdateDeploymentRequest(),
    "DeleteDeployment": pb.DeleteDeploymentRequest(name="missing"),
    "CreateExecution": pb.CreateExecutionRequest(
        execution=epb.Execution(deployment_name="missing")
    ),
    "GetExecution": pb.GetExecutionRequest(execution_id=MISSING),
    "ListExecutions": pb.ListExecutionsRequest(),
    "DeleteExecution": pb.DeleteExecutionRequest(execution_id=MISSING),
    "GetExecutionInput": pb.GetExecutionInputRequest(execution_id=MISSING, input_name="x"),
    "GetExecutionOutput": pb.GetExecutionOutputRequest(execution_id=MISSING, output_name="x"),
    "GetJobStatus": pb.GetJobStatusRequest(execution_id=MISSING),
    "UpdateJobStatus": pb.UpdateJobStatusRequest(execution_id=MISSING, start=pb.StartAction()),
    "CancelExecution": pb.CancelExecutionRequest(execution_id=MISSING),
    "SetExecutionOutputs": pb.SetExecutionOutputsRequest(execution_id=MISSING),
    "UpdateStep": pb.UpdateStepRequest(execution_id=MISSING, step=epb.Step(name="s")),
    "AppendLogs": pb.AppendLogsRequest(execution_id=MISSING, entries=[epb.LogEntry(message="x")]),
    "GetExecutionLogs": pb.GetExecutionLogsRequest(execution_id=MISSING),
    "WatchStatus": pb.WatchStatusRequest(execution_id=MISSING),
    "StreamLogs": pb.StreamLogsRequest(execution_id=MISSING),
    "LogMetrics": pb.LogMetricsRequest(
        execution_id=MISSING, points=[mpb.MetricPoint(name="loss", value=1.0)]
    ),
    "ListMetrics": pb.ListMetricsRequest(execution_id=MISSING),
    "GetMetricHistory": pb.GetMetricHistoryRequest(
        execution_ids=[MISSING], name="loss", max_points=10
    ),
    "StreamMetrics": pb.StreamMetricsRequest(execution_id=MISSING),
    "GetServiceInfo": pb.GetServiceInfoRequest(),
    "CreateToken": pb.CreateTokenRequest(),
    "ListTokens": pb.ListTokensRequest(),
    "RevokeToken": pb.RevokeTokenRequest(token_id="tok_000000000000"),
    "CreateSubscription": pb.CreateSubscriptionRequest(),
    "GetSubscription": pb.GetSubscriptionRequest(subscription_id="sub_000000000000"),
    "ListSubscriptions": pb.ListSubscriptionsRequest(),
    "DeleteSubscription": pb.DeleteSubscriptionRequest(subscription_id="sub_000000000000"),
    "PauseSubscription": pb.PauseSubscriptionRequest(subscription_id="sub_000000000000"),
    "ResumeSubscription": pb.ResumeSubscriptionRequest(subscription_id="sub_000000000000"),
    "ListDeliveries": pb.ListDeliveriesRequest(subscription_id="sub_000000000000"),
    "TestSubscription": pb.TestSubscriptionRequest(subscription_id="sub_000000000000"),
}
ROLE_OF = {
    **dict.fromkeys(
        [
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
        ],
        "READER",
    ),
    **dict.fromkeys(
        [
            "CreateDeployment",
            "UpdateDeployment",
            "CreateExecution",
            "UpdateJobStatus",
            "CancelExecution",
            "SetExecutionOutputs",
            "UpdateStep",
            "AppendLogs",
            "LogMetrics",
        ],
        "WRITER",
    ),
    **dict.fromkeys(
        [
            "DeleteDeployment",
            "DeleteExecution",
            "CreateToken",
            "ListTokens",
            "RevokeToken",
            "CreateSubscription",
            "GetSubscription",
            "ListSubscriptions",
            "DeleteSubscription",
            "PauseSubscription",
            "ResumeSubscription",
            "ListDeliveries",
            "TestSubscription",
        ],
        "ADMIN",
    ),
}
RANK = {"READER": 1, "WRITER": 2, "ADMIN": 3}


def call(channel: grpc.Channel, rpc: str, token: str | None) -> grpc.StatusCode:
    method = SERVICE.methods_by_name[rpc]
    request = REQUESTS[rpc]
    metadata = (("authorization", token),) if token is not None else None
    path = f"{SERVICE_PREFIX}{rpc}"
    try:
        if method.server_streaming:
            stream: Iterable[bytes] = channel.unary_stream(
                path, type(request).SerializeToString, None
            )(request, metadata=metadata, timeout=10)
            for _ in stream:
                break
        else:
            channel.unary_unary(path, type(request).SerializeToString, None)(
                request, metadata=metadata, timeout=10
            )
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.fixture
def secured(make_server: ServerFactory) -> ServerThread:
    return make_server(
        auth="on",
        token_cache_seconds=0,
        stream_recheck_seconds=0.2,
        rate_limit_per_second=0,
        # The matrix fails authentication on purpose, many times over.
        auth_failures_per_second=1e6,
        auth_failure_burst=1e6,
    )


def test_every_rpc_is_in_the_matrix() -> None:
    assert set(REQUESTS) == {m.name for m in SERVICE.methods} == set(ROLE_OF)


def test_auth_matrix(secured: ServerThread) -> None:
    tokens = {role: new_token(secured, role)[1] for role in RANK}
    revoked_id, revoked = new_token(secured, "ADMIN")
    secured.run(secured.app.tokens.revoke(revoked_id))  # type: ignore[union-attr]
    callers: dict[str, tuple[str | None, set[grpc.StatusCode] | None]] = {
        "no token": (None, {grpc.StatusCode.UNAUTHENTICATED}),
        "not bearer": ("Basic dXNlcjpwYXNz", {grpc.StatusCode.UNAUTHENTICATED}),
        "malformed": ("Bearer not-a-token", {grpc.StatusCode.UNAUTHENTICATED}),
        "unknown": ("Bearer tok_0123456789ab." + "A" * 43, {grpc.StatusCode.UNAUTHENTICATED}),
        "revoked": (f"Bearer {revoked}", {grpc.StatusCode.UNAUTHENTICATED}),
    }
    refused = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
    failures: list[str] = []
    with grpc.insecure_channel(secured.address) as channel:
        for rpc in REQUESTS:
            for caller, (token, expected) in callers.items():
                code = call(channel, rpc, token)
                if expected is not None and code not in expected:
                    failures.append(f"{rpc} with {caller}: {code.name}")
            for role, secret in tokens.items():
                code = call(channel, rpc, f"Bearer {secret}")
                allowed = RANK[role] >= RANK[ROLE_OF[rpc]]
                if allowed and code in refused:
                    failures.append(f"{rpc} as {role}: refused with {code.name}")
                if not allowed and code is not grpc.StatusCode.PERMISSION_DENIED:
                    failures.append(f"{rpc} as {role}: {code.name}, expected PERMISSION_DENIED")
    assert failures == []


def test_writes_record_the_token_name(secured: ServerThread) -> None:
    _, secret = new_token(secured, "WRITER", "ci-bot")
    metadata = (("authorization", f"Bearer {secret}"),)
    with grpc.insecure_channel(secured.address) as channel:
        stub = TrackingServiceStub(channel)
        execution = stub.CreateExecution(pb.CreateExecutionRequest(), metadata=metadata).execution
    assert execution.created_by == "ci-bot"


def test_tokens_through_the_api_and_no_secret_in_the_database(secured: ServerThread) -> None:
    _, admin = new_token(secured, "ADMIN", "root")
    metadata = (("authorization", f"Bearer {admin}"),)
    with grpc.insecure_channel(secured.address) as channel:
        stub = TrackingServiceStub(channel)
        created = stub.CreateToken(
            pb.CreateTokenRequest(name="reader-1", role=auth_pb2.ROLE_READER), metadata=metadata
        )
        assert created.secret.startswith(created.token.token_id + ".")
        assert created.token.created_by == "root"
        listed = stub.ListTokens(pb.ListTokensRequest(), metadata=metadata).tokens
        assert [t.name for t in listed][:1] == ["reader-1"]
        assert all(not t.HasField("revoke_time") for t in listed)
        reader = (("authorization", f"Bearer {created.secret}"),)
        stub.ListExecutions(pb.ListExecutionsRequest(), metadata=reader)
        revoked = stub.RevokeToken(
            pb.RevokeTokenRequest(token_id=created.token.token_id), metadata=metadata
        ).token
        assert revoked.HasField("revoke_time")
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListExecutions(pb.ListExecutionsRequest(), metadata=reader)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert [
            t.token_id for t in stub.ListTokens(pb.ListTokensRequest(), metadata=metadata).tokens
        ].count(created.token.token_id) == 0
        with pytest.raises(grpc.RpcError) as caught:
            stub.CreateToken(
                pb.CreateTokenRequest(name="", role=auth_pb2.ROLE_READER), metadata=metadata
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as caught:
            stub.RevokeToken(pb.RevokeTokenRequest(token_id="tok_ffffffffffff"), metadata=metadata)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert secured.app is not None
    dump = secured.run(_dump_tables(secured))
    assert admin not in dump
    assert created.secret not in dump
    assert created.secret.split(".", 1)[1] not in dump


async def _dump_tables(server: ServerThread) -> str:
    from sqlalchemy import text

    assert server.app is not None
    async with server.app.database.read_engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM api_tokens"))).all()
    return repr(rows)


def test_a_revoked_tokens_open_streams_end(secured: ServerThread) -> None:
    _, admin = new_token(secured, "ADMIN")
    token_id, reader = new_token(secured, "READER")
    with grpc.insecure_channel(secured.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = stub.CreateExecution(
            pb.CreateExecutionRequest(), metadata=(("authorization", f"Bearer {admin}"),)
        ).execution.execution_id
        watch = stub.WatchStatus(
            pb.WatchStatusRequest(execution_id=execution_id),
            metadata=(("authorization", f"Bearer {reader}"),),
            timeout=60,
        )
        assert next(watch).event.snapshot
        secured.run(secured.app.tokens.revoke(token_id))  # type: ignore[union-attr]
        with pytest.raises(grpc.RpcError) as caught:
            for _ in watch:
                pass
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in (caught.value.details() or "")


def test_flooding_one_caller_leaves_the_others_served(make_server: ServerFactory) -> None:
    server = make_server(auth="on", rate_limit_per_second=1, rate_limit_burst=5)
    _, flood = new_token(server, "READER")
    _, calm = new_token(server, "READER")
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        codes = []
        for _ in range(20):
            try:
                stub.ListDeployments(
                    pb.ListDeploymentsRequest(), metadata=(("authorization", f"Bearer {flood}"),)
                )
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                codes.append(error.code())
        assert codes.count(grpc.StatusCode.OK) <= 6
        assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 14
        stub.ListDeployments(
            pb.ListDeploymentsRequest(), metadata=(("authorization", f"Bearer {calm}"),)
        )


def test_auth_is_on_by_default_off_loopback() -> None:
    from tracking.service.settings import Settings

    assert not Settings(address="127.0.0.1:50051").auth_required
    assert not Settings(address="localhost:50051").auth_required
    assert not Settings(address="[::1]:50051").auth_required
    assert Settings(address="0.0.0.0:50051").auth_required
    assert Settings(address="10.1.2.3:50051").auth_required
    assert not Settings(address="0.0.0.0:50051", auth="off").auth_required
    assert Settings(address="127.0.0.1:50051", auth="on").auth_required
