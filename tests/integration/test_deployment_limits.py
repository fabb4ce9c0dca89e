"""A deployment cannot outgrow what a response carries; its endpoint token is not for readers."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from tests.conftest import ServerFactory
from tests.support.factories import create_deployment, new_token, unique, violations
from tracking.v1 import deployment_pb2, io_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

MiB = 1 << 20


def mappings(total_bytes: int) -> list[io_pb2.InputMapping]:
    """Input mappings holding about `total_bytes` of constant values."""
    count = max(1, total_bytes // 50_000)
    return [
        io_pb2.InputMapping(pipeline_input_name=f"in{i}", constant_value="v" * 50_000)
        for i in range(count)
    ]


def test_a_deployment_over_its_budget_is_resource_exhausted_and_not_created(
    stub: TrackingServiceStub,
) -> None:
    name = unique("big")
    with pytest.raises(grpc.RpcError) as refused:
        create_deployment(stub, name=name, inputs_mapping=mappings(3 * MiB))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "more than the 1048576 a deployment may hold" in str(refused.value.details())
    with pytest.raises(grpc.RpcError) as missing:
        stub.GetDeployment(pb.GetDeploymentRequest(name=name))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_refused_update_changes_nothing(stub: TrackingServiceStub) -> None:
    deployment = create_deployment(stub, inputs_mapping=mappings(MiB // 2))
    update = pb.UpdateDeploymentRequest(
        deployment=deployment_pb2.Deployment(
            name=deployment.name,
            outputs_mapping=[
                io_pb2.OutputMapping(pipeline_output_name="o", datastore_path="p" * 3_000_000)
            ],
        ),
        update_mask=field_mask_pb2.FieldMask(paths=["outputs_mapping"]),
    )
    with pytest.raises(grpc.RpcError) as refused:
        stub.UpdateDeployment(update)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    stored = stub.GetDeployment(pb.GetDeploymentRequest(name=deployment.name)).deployment
    assert list(stored.outputs_mapping) == []
    assert stored.update_time == deployment.update_time


def test_a_page_of_large_deployments_stops_before_the_message_limit(
    make_server: ServerFactory,
) -> None:
    server = make_server()
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        names = sorted(
            create_deployment(stub, inputs_mapping=mappings(MiB - 100_000)).name for _ in range(5)
        )
        seen: list[str] = []
        token = ""
        pages = 0
        while True:
            page = stub.ListDeployments(pb.ListDeploymentsRequest(page_size=50, page_token=token))
            assert page.ByteSize() < 3 * MiB
            seen += [d.name for d in page.deployments]
            pages += 1
            token = page.next_page_token
            if not token:
                break
        assert seen == names
        assert pages >= 3


def test_an_endpoint_token_is_bounded(stub: TrackingServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        create_deployment(stub, endpoint_token="t" * 4097)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "deployment.endpoint_token" in violations(refused.value)


def test_readers_do_not_see_endpoint_tokens(make_server: ServerFactory) -> None:
    server = make_server(auth="on")
    _, writer = new_token(server, "WRITER")
    _, reader = new_token(server, "READER")
    as_writer = (("authorization", f"Bearer {writer}"),)
    as_reader = (("authorization", f"Bearer {reader}"),)
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        created = stub.CreateDeployment(
            pb.CreateDeploymentRequest(
                deployment=deployment_pb2.Deployment(
                    name=unique("ep"),
                    pipeline_name="p",
                    execution_rule=deployment_pb2.EXECUTION_RULE_ENDPOINT,
                    endpoint_token="s3cret",
                )
            ),
            metadata=as_writer,
        ).deployment
        get = pb.GetDeploymentRequest(name=created.name)
        assert stub.GetDeployment(get, metadata=as_writer).deployment.endpoint_token == "s3cret"
        assert stub.GetDeployment(get, metadata=as_reader).deployment.endpoint_token == ""
        listed = stub.ListDeployments(pb.ListDeploymentsRequest(), metadata=as_reader)
        assert [d.endpoint_token for d in listed.deployments] == [""]
