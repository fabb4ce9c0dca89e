"""Small builders and readers the integration tests share."""

from __future__ import annotations

import itertools
import secrets
from typing import TYPE_CHECKING, Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tracking.v1 import deployment_pb2, execution_pb2, status_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

if TYPE_CHECKING:
    from tests.support.server import ServerThread

_counter = itertools.count()


def unique(prefix: str = "t") -> str:
    """A name no other test uses (lowercase, valid as a deployment name)."""
    return f"{prefix}-{next(_counter)}-{secrets.token_hex(3)}"


def create_deployment(stub: TrackingServiceStub, **fields: Any) -> deployment_pb2.Deployment:
    values: dict[str, Any] = {
        "name": unique("dep"),
        "pipeline_name": "pipe",
        "execution_rule": deployment_pb2.EXECUTION_RULE_ENDPOINT,
        "is_enabled": True,
    }
    values.update(fields)
    response = stub.CreateDeployment(
        pb.CreateDeploymentRequest(deployment=deployment_pb2.Deployment(**values))
    )
    return response.deployment


def create_execution(
    stub: TrackingServiceStub, request_id: str = "", **fields: Any
) -> execution_pb2.Execution:
    response = stub.CreateExecution(
        pb.CreateExecutionRequest(
            execution=execution_pb2.Execution(**fields), request_id=request_id
        )
    )
    return response.execution


def act(stub: TrackingServiceStub, execution_id: str, **action: Any) -> status_pb2.JobStatus:
    response = stub.UpdateJobStatus(pb.UpdateJobStatusRequest(execution_id=execution_id, **action))
    return response.job_status


def start(stub: TrackingServiceStub, execution_id: str) -> status_pb2.JobStatus:
    return act(stub, execution_id, start=pb.StartAction())


def stop(
    stub: TrackingServiceStub,
    execution_id: str,
    cause: int = status_pb2.RUNNING_STATUS_SUCCESS,
    message: str = "",
) -> status_pb2.JobStatus:
    return act(stub, execution_id, stop=pb.StopAction(cause=cause, message=message))


def violations(error: grpc.RpcError) -> dict[str, str]:
    """field -> description of the google.rpc.BadRequest an INVALID_ARGUMENT carries."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "INVALID_ARGUMENT without a google.rpc.Status"
    found: dict[str, str] = {}
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found.update({v.field: v.description for v in bad_request.field_violations})
    return found


def new_token(server: ServerThread, role: str, name: str | None = None) -> tuple[str, str]:
    """A bearer token of `role` made on the server's database: (token id, secret)."""
    assert server.app is not None
    row, secret = server.run(server.app.tokens.create(name or unique(role.lower()), role, "test"))
    return row.token_id, secret
