"""Deployment messages <-> stored deployments."""

from __future__ import annotations

from datetime import datetime

from tracking.service.api.enum_names import enum_name, enum_number
from tracking.service.api.values import from_json, stamp, to_json
from tracking.service.domain import schedule
from tracking.service.domain.deployments import DeploymentFields
from tracking.service.store.models import DeploymentRow
from tracking.v1 import deployment_pb2, io_pb2


def deployment_fields(
    deployment: deployment_pb2.Deployment, *, enabled_when_unset: bool = True
) -> DeploymentFields:
    """The stored fields of a Deployment (defaults applied); enums already checked.

    An unset is_enabled reads as `enabled_when_unset`: True at create, False in an update
    (see UpdateDeploymentRequest.update_mask)."""
    mode = enum_name(deployment_pb2.DeploymentMode.DESCRIPTOR, deployment.mode)
    status = enum_name(deployment_pb2.DeploymentStatus.DESCRIPTOR, deployment.status)
    return DeploymentFields(
        name=deployment.name,
        pipeline_name=deployment.pipeline_name,
        description=deployment.description,
        execution_rule=enum_name(
            deployment_pb2.ExecutionRule.DESCRIPTOR, deployment.execution_rule
        ),
        mode="ELASTIC" if mode == "UNSPECIFIED" else mode,
        schedule=deployment.schedule.strip(),
        inputs_mapping=[
            to_json(m, f"deployment.inputs_mapping[{i}]")
            for i, m in enumerate(deployment.inputs_mapping)
        ],
        outputs_mapping=[
            to_json(m, f"deployment.outputs_mapping[{i}]")
            for i, m in enumerate(deployment.outputs_mapping)
        ],
        status="PENDING" if status == "UNSPECIFIED" else status,
        is_enabled=(
            deployment.is_enabled if deployment.HasField("is_enabled") else enabled_when_unset
        ),
        pods=[to_json(p, f"deployment.pods[{i}]") for i, p in enumerate(deployment.pods)],
        labels=dict(deployment.labels),
        endpoint_token=deployment.endpoint_token,
    )


def deployment_proto(row: DeploymentRow, now: datetime) -> deployment_pb2.Deployment:
    deployment = deployment_pb2.Deployment(
        name=row.name,
        pipeline_name=row.pipeline_name,
        description=row.description,
        execution_rule=enum_number(deployment_pb2.ExecutionRule.DESCRIPTOR, row.execution_rule),
        mode=enum_number(deployment_pb2.DeploymentMode.DESCRIPTOR, row.mode),
        schedule=row.schedule,
        inputs_mapping=[from_json(m, io_pb2.InputMapping()) for m in row.inputs_mapping],
        outputs_mapping=[from_json(m, io_pb2.OutputMapping()) for m in row.outputs_mapping],
        status=enum_number(deployment_pb2.DeploymentStatus.DESCRIPTOR, row.status),
        is_enabled=row.is_enabled,
        pods=[from_json(p, deployment_pb2.Pod()) for p in row.pods],
        labels=row.labels,
        create_time=stamp(row.create_time),
        created_by=row.created_by,
        update_time=stamp(row.update_time),
        updated_by=row.updated_by,
        last_execution_id=row.last_execution_id,
        endpoint_token=row.endpoint_token,
    )
    if row.execution_rule == "PERIODIC" and row.schedule:
        deployment.human_readable_schedule = schedule.describe(row.schedule)
        deployment.next_run_time.FromDatetime(schedule.next_run(row.schedule, now))
    return deployment
