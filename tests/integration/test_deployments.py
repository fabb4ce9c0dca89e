"""Deployments: create, get, list, update, delete, and every bad input, on each database."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from tests.support.factories import create_deployment, create_execution, unique, violations
from tracking.v1 import deployment_pb2 as dpb
from tracking.v1 import io_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def test_create_then_get_returns_every_field(stub: TrackingServiceStub) -> None:
    name = unique("full")
    created = create_deployment(
        stub,
        name=name,
        pipeline_name="train-pipeline",
        description="nightly training",
        execution_rule=dpb.EXECUTION_RULE_PERIODIC,
        mode=dpb.DEPLOYMENT_MODE_LOW_LATENCY,
        schedule="0 3 * * *",
        inputs_mapping=[
            io_pb2.InputMapping(
                pipeline_input_name="epochs",
                data_type="number",
                source=io_pb2.INPUT_SOURCE_CONSTANT,
                constant_value="10",
                is_required=True,
                default_value="5",
            )
        ],
        outputs_mapping=[
            io_pb2.OutputMapping(
                pipeline_output_name="model",
                data_type="file",
                destination=io_pb2.OUTPUT_DESTINATION_DATASTORE,
                datastore_path="models/latest",
            )
        ],
        status=dpb.DEPLOYMENT_STATUS_UP,
        pods=[dpb.Pod(pod_id="pod-1", status="running")],
        labels={"team": "ml"},
        endpoint_token="secret-token",
    )
    fetched = stub.GetDeployment(pb.GetDeploymentRequest(name=name)).deployment
    assert fetched == created
    assert fetched.pipeline_name == "train-pipeline"
    assert fetched.mode == dpb.DEPLOYMENT_MODE_LOW_LATENCY
    assert fetched.human_readable_schedule == "At 03:00 AM"
    assert fetched.next_run_time.ToDatetime().hour == 3
    assert fetched.inputs_mapping[0].constant_value == "10"
    assert fetched.inputs_mapping[0].is_required
    assert fetched.outputs_mapping[0].datastore_path == "models/latest"
    assert fetched.pods[0].pod_id == "pod-1"
    assert dict(fetched.labels) == {"team": "ml"}
    assert fetched.created_by == "anonymous"
    assert fetched.create_time.seconds > 0
    assert fetched.create_time == fetched.update_time


def test_defaults_are_elastic_and_pending(stub: TrackingServiceStub) -> None:
    created = create_deployment(stub)
    assert created.mode == dpb.DEPLOYMENT_MODE_ELASTIC
    assert created.status == dpb.DEPLOYMENT_STATUS_PENDING
    assert created.human_readable_schedule == ""
    assert not created.HasField("next_run_time")


def test_duplicate_name_is_already_exists(stub: TrackingServiceStub) -> None:
    created = create_deployment(stub)
    with pytest.raises(grpc.RpcError) as caught:
        create_deployment(stub, name=created.name)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert created.name in caught.value.details()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "deployment.name"),
        ({"name": "Upper_Case"}, "deployment.name"),
        ({"name": "-leading-dash"}, "deployment.name"),
        ({"name": "x" * 64}, "deployment.name"),
        ({"pipeline_name": ""}, "deployment.pipeline_name"),
        ({"execution_rule": dpb.EXECUTION_RULE_UNSPECIFIED}, "deployment.execution_rule"),
        ({"execution_rule": 42}, "deployment.execution_rule"),
        ({"mode": 9}, "deployment.mode"),
        ({"execution_rule": dpb.EXECUTION_RULE_PERIODIC}, "deployment.schedule"),
        (
            {"execution_rule": dpb.EXECUTION_RULE_PERIODIC, "schedule": "every day"},
            "deployment.schedule",
        ),
        (
            {"execution_rule": dpb.EXECUTION_RULE_PERIODIC, "schedule": "61 * * * *"},
            "deployment.schedule",
        ),
        ({"schedule": "0 3 * * *"}, "deployment.schedule"),
        ({"labels": {"Bad Key": "v"}}, "deployment.labels['Bad Key']"),
        ({"labels": {"k": "v" * 256}}, "deployment.labels['k']"),
        (
            {"inputs_mapping": [io_pb2.InputMapping(pipeline_input_name="a")] * 2},
            "deployment.inputs_mapping[1]",
        ),
        (
            {"inputs_mapping": [io_pb2.InputMapping(pipeline_input_name="a", source=77)]},
            "deployment.inputs_mapping[0].source",
        ),
    ],
)
def test_bad_deployment_is_invalid_argument_naming_the_field(
    stub: TrackingServiceStub, fields: dict[str, object], field: str
) -> None:
    values = {"name": unique("bad"), **fields}
    with pytest.raises(grpc.RpcError) as caught:
        create_deployment(stub, **values)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(caught.value)
    if values["name"] and isinstance(values["name"], str):
        with pytest.raises(grpc.RpcError) as missing:
            stub.GetDeployment(pb.GetDeploymentRequest(name=str(values["name"])))
        assert missing.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)


def test_get_missing_is_not_found_and_bad_name_is_invalid(stub: TrackingServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetDeployment(pb.GetDeploymentRequest(name=unique("missing")))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetDeployment(pb.GetDeploymentRequest(name="NOT A NAME"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "name" in violations(caught.value)


def test_list_filters_and_pages(stub: TrackingServiceStub) -> None:
    team = unique("team")
    names = sorted(create_deployment(stub, labels={"team": team}).name for _ in range(5))
    create_deployment(
        stub,
        labels={"team": team},
        execution_rule=dpb.EXECUTION_RULE_PERIODIC,
        schedule="*/5 * * * *",
    )
    query = f'labels.team = "{team}" AND execution_rule = ENDPOINT'
    seen: list[str] = []
    token = ""
    while True:
        page = stub.ListDeployments(
            pb.ListDeploymentsRequest(filter=query, page_size=2, page_token=token)
        )
        assert len(page.deployments) <= 2
        seen.extend(d.name for d in page.deployments)
        token = page.next_page_token
        if not token:
            break
    assert seen == names
    periodic = stub.ListDeployments(
        pb.ListDeploymentsRequest(filter=f'labels.team = "{team}" AND execution_rule = PERIODIC')
    )
    assert [d.execution_rule for d in periodic.deployments] == [dpb.EXECUTION_RULE_PERIODIC]


@pytest.mark.parametrize(
    ("filter_text", "fragment"),
    [
        ("owner = bob", "unknown field 'owner'"),
        ("status = BROKEN", "'BROKEN' is not a status"),
        ("is_enabled = maybe", "true or false"),
        ("pipeline_name", "expected an operator"),
        ("pipeline_name = a OR pipeline_name = b", "expected AND"),
    ],
)
def test_bad_filter_is_invalid_argument(
    stub: TrackingServiceStub, filter_text: str, fragment: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListDeployments(pb.ListDeploymentsRequest(filter=filter_text))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in violations(caught.value)["filter"]


def test_altered_or_foreign_page_token_is_invalid_argument(stub: TrackingServiceStub) -> None:
    team = unique("team")
    for _ in range(3):
        create_deployment(stub, labels={"team": team})
    query = f'labels.team = "{team}"'
    token = stub.ListDeployments(
        pb.ListDeploymentsRequest(filter=query, page_size=1)
    ).next_page_token
    assert token
    altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad_token, bad_query in (
        (altered, query),
        (token, 'labels.team = "other"'),
        ("garbage!", query),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListDeployments(
                pb.ListDeploymentsRequest(filter=bad_query, page_size=1, page_token=bad_token)
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "page_token" in violations(caught.value)
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListDeployments(pb.ListDeploymentsRequest(page_size=-1))
    assert "page_size" in violations(caught.value)


def test_update_changes_only_masked_fields(stub: TrackingServiceStub) -> None:
    created = create_deployment(stub, description="before", labels={"a": "1"})
    updated = stub.UpdateDeployment(
        pb.UpdateDeploymentRequest(
            deployment=dpb.Deployment(
                name=created.name, description="after", pipeline_name="ignored", is_enabled=False
            ),
            update_mask=FieldMask(paths=["description", "is_enabled"]),
        )
    ).deployment
    assert updated.description == "after"
    assert not updated.is_enabled
    assert updated.pipeline_name == created.pipeline_name
    assert dict(updated.labels) == {"a": "1"}
    assert updated.update_time.ToDatetime() >= created.update_time.ToDatetime()
    assert stub.GetDeployment(pb.GetDeploymentRequest(name=created.name)).deployment == updated


def _create_bare(stub: TrackingServiceStub, **fields: bool) -> dpb.Deployment:
    """CreateDeployment with only what is required (plus `fields`), as an old client sends."""
    deployment = dpb.Deployment(
        name=unique("bare"), pipeline_name="pipe", execution_rule=dpb.EXECUTION_RULE_ENDPOINT
    )
    for name, value in fields.items():
        setattr(deployment, name, value)
    return stub.CreateDeployment(pb.CreateDeploymentRequest(deployment=deployment)).deployment


def _set_is_enabled(stub: TrackingServiceStub, name: str, *values: bool) -> dpb.Deployment:
    """UpdateDeployment naming is_enabled, with the value given, or unset when none is."""
    deployment = dpb.Deployment(name=name)
    for value in values:
        deployment.is_enabled = value
    request = pb.UpdateDeploymentRequest(
        deployment=deployment, update_mask=FieldMask(paths=["is_enabled"])
    )
    return stub.UpdateDeployment(request).deployment


def _refused(stub: TrackingServiceStub, deployment_name: str) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        create_execution(stub, deployment_name=deployment_name)
    return caught.value


def test_unset_is_enabled_means_enabled_and_only_false_disables(stub: TrackingServiceStub) -> None:
    unset = _create_bare(stub)
    assert unset.HasField("is_enabled")
    assert unset.is_enabled
    assert create_execution(stub, deployment_name=unset.name).deployment_name == unset.name

    disabled = _create_bare(stub, is_enabled=False)
    assert disabled.HasField("is_enabled")
    assert not disabled.is_enabled
    refused = _refused(stub, disabled.name)
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"deployment {disabled.name!r} is disabled" in str(refused.details())


def test_update_naming_is_enabled_with_it_unset_disables(stub: TrackingServiceStub) -> None:
    team = unique("team")
    created = _create_bare(stub)
    stub.UpdateDeployment(
        pb.UpdateDeploymentRequest(
            deployment=dpb.Deployment(name=created.name, labels={"team": team}),
            update_mask=FieldMask(paths=["labels"]),
        )
    )
    # An unset is_enabled outside the mask changes nothing.
    assert stub.GetDeployment(pb.GetDeploymentRequest(name=created.name)).deployment.is_enabled

    assert not _set_is_enabled(stub, created.name).is_enabled
    assert _refused(stub, created.name).code() == grpc.StatusCode.FAILED_PRECONDITION

    def listed(query: str) -> list[str]:
        request = pb.ListDeploymentsRequest(filter=f'labels.team = "{team}" AND {query}')
        return [d.name for d in stub.ListDeployments(request).deployments]

    assert (listed("is_enabled = false"), listed("is_enabled = true")) == ([created.name], [])
    assert _set_is_enabled(stub, created.name, True).is_enabled
    assert (listed("is_enabled = false"), listed("is_enabled = true")) == ([], [created.name])
    assert create_execution(stub, deployment_name=created.name).deployment_name == created.name


@pytest.mark.parametrize(
    ("paths", "fragment"),
    [
        ([], "at least one field"),
        (["execution_rule"], "cannot be changed"),
        (["created_by"], "output only"),
        (["colour"], "not a field"),
    ],
)
def test_bad_update_mask_is_invalid_argument(
    stub: TrackingServiceStub, paths: list[str], fragment: str
) -> None:
    created = create_deployment(stub)
    with pytest.raises(grpc.RpcError) as caught:
        stub.UpdateDeployment(
            pb.UpdateDeploymentRequest(deployment=created, update_mask=FieldMask(paths=paths))
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in violations(caught.value)["update_mask"]
    assert stub.GetDeployment(pb.GetDeploymentRequest(name=created.name)).deployment == created


def test_update_that_breaks_a_rule_changes_nothing(stub: TrackingServiceStub) -> None:
    created = create_deployment(
        stub, execution_rule=dpb.EXECUTION_RULE_PERIODIC, schedule="0 * * * *"
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.UpdateDeployment(
            pb.UpdateDeploymentRequest(
                deployment=dpb.Deployment(name=created.name, schedule="not cron"),
                update_mask=FieldMask(paths=["schedule"]),
            )
        )
    assert "deployment.schedule" in violations(caught.value)
    assert stub.GetDeployment(pb.GetDeploymentRequest(name=created.name)).deployment == created


def test_update_missing_is_not_found(stub: TrackingServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.UpdateDeployment(
            pb.UpdateDeploymentRequest(
                deployment=dpb.Deployment(name=unique("nope"), description="x"),
                update_mask=FieldMask(paths=["description"]),
            )
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_delete_takes_executions_and_logs_with_it(stub: TrackingServiceStub) -> None:
    deployment = create_deployment(stub)
    executions = [create_execution(stub, deployment_name=deployment.name) for _ in range(3)]
    stub.AppendLogs(
        pb.AppendLogsRequest(execution_id=executions[0].execution_id, entries=[{"message": "hi"}])
    )
    deleted = stub.DeleteDeployment(pb.DeleteDeploymentRequest(name=deployment.name))
    assert deleted.name == deployment.name
    assert deleted.execution_rule == dpb.EXECUTION_RULE_ENDPOINT
    assert deleted.deleted_execution_count == 3
    for execution in executions:
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetExecution(pb.GetExecutionRequest(execution_id=execution.execution_id))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetDeployment(pb.GetDeploymentRequest(name=deployment.name))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.DeleteDeployment(pb.DeleteDeploymentRequest(name=deployment.name))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    # The name is free again.
    assert create_deployment(stub, name=deployment.name).name == deployment.name
