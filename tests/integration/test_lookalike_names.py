"""A name that ends in a newline is not a second spelling of a valid name."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest

from tests.support.factories import create_deployment, create_execution, unique, violations
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def refusal(call: Callable[[], object]) -> dict[str, str]:
    with pytest.raises(grpc.RpcError) as error:
        call()
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
    return violations(error.value)


def test_a_deployment_name_with_a_trailing_newline_is_refused(stub: TrackingServiceStub) -> None:
    name = unique("inj")
    create_deployment(stub, name=name)
    assert "deployment.name" in refusal(lambda: create_deployment(stub, name=f"{name}\n"))
    assert "name" in refusal(lambda: stub.GetDeployment(pb.GetDeploymentRequest(name=f"{name}\n")))
    listed = stub.ListDeployments(pb.ListDeploymentsRequest(page_size=1000)).deployments
    assert f"{name}\n" not in {d.name for d in listed}


def test_ids_label_keys_and_request_ids_with_a_trailing_newline_are_refused(
    stub: TrackingServiceStub,
) -> None:
    execution_id = unique("inj")
    assert "execution.execution_id" in refusal(
        lambda: create_execution(stub, execution_id=f"{execution_id}\n", pipeline_name="p")
    )
    assert "execution.labels" in " ".join(
        refusal(lambda: create_execution(stub, pipeline_name="p", labels={"team\n": "ml"}))
    )
    assert "request_id" in refusal(
        lambda: create_execution(stub, request_id=f"{execution_id}\n", pipeline_name="p")
    )
    assert "execution_id" in refusal(
        lambda: stub.GetJobStatus(pb.GetJobStatusRequest(execution_id=f"{execution_id}\n"))
    )
    assert "token_id" in refusal(
        lambda: stub.RevokeToken(pb.RevokeTokenRequest(token_id="tok_0123456789ab\n"))
    )
