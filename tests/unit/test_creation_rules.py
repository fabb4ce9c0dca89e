"""The rules over what a creator sets (NewExecution, DeploymentFields), without a server."""

from __future__ import annotations

import dataclasses

import pytest

from tracking.service.domain import deployments, executions
from tracking.service.domain.errors import ResourceExhausted, ValidationCollector

EXECUTION = executions.NewExecution(
    execution_id="",
    deployment_name="",
    pipeline_name="pipe",
    job_name="",
    job_type="UNSPECIFIED",
    experiment_name="",
    model_run_id="",
    steps=[],
    inputs=[],
    labels={},
    command=[],
    heartbeat_timeout_seconds=None,
)
DEPLOYMENT = deployments.DeploymentFields(
    name="nightly",
    pipeline_name="pipe",
    description="",
    execution_rule="PERIODIC",
    mode="ELASTIC",
    schedule="0 3 * * *",
    inputs_mapping=[],
    outputs_mapping=[],
    status="PENDING",
    is_enabled=True,
    pods=[],
    labels={},
    endpoint_token="",
)


def execution_violations(new: executions.NewExecution) -> list[str]:
    errors = ValidationCollector()
    executions.check(errors, new)
    return [v.field for v in errors.violations]


def deployment_violations(fields: deployments.DeploymentFields) -> list[str]:
    errors = ValidationCollector()
    deployments.check(errors, fields)
    return [v.field for v in errors.violations]


def test_a_new_execution_has_every_bad_field_named() -> None:
    assert execution_violations(EXECUTION) == []
    bad = dataclasses.replace(
        EXECUTION,
        job_name="x" * 257,
        steps=[{"name": "a"}, {"name": "a"}],
        heartbeat_timeout_seconds=0.5,
        command=["x" * (executions.MAX_COMMAND_CHARACTERS + 1)],
    )
    assert execution_violations(bad) == [
        "execution.job_name",
        "execution.steps[1]",
        "execution.heartbeat_timeout",
        "execution.command",
    ]


def test_a_new_execution_weighs_its_steps_and_inputs() -> None:
    big = dataclasses.replace(EXECUTION, inputs=[{"name": "x" * 100}])
    executions.check_documents_fit(big.documents(), 200)
    with pytest.raises(ResourceExhausted):
        executions.check_documents_fit(big.documents(), 100)


def test_deployment_fields_have_every_bad_field_named() -> None:
    assert deployment_violations(DEPLOYMENT) == []
    bad = dataclasses.replace(DEPLOYMENT, pipeline_name="", schedule="", labels={"": "x"})
    assert deployment_violations(bad) == [
        "deployment.pipeline_name",
        "deployment.schedule",
        "deployment.labels['']",
    ]


def test_every_field_an_update_may_name_is_a_deployment_field() -> None:
    names = {field.name for field in dataclasses.fields(deployments.DeploymentFields)}
    assert names >= deployments.MUTABLE_FIELDS
    assert names >= deployments.IMMUTABLE_FIELDS
