"""Rules a deployment must follow."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tracking.service.domain import schedule
from tracking.service.domain.errors import ResourceExhausted, ValidationCollector
from tracking.service.domain.filters import FieldSpec, Kind
from tracking.service.domain.names import (
    check_deployment_name,
    check_labels,
    check_text,
    check_unique_names,
)


@dataclass(frozen=True, slots=True)
class DeploymentFields:
    """What a creator or an update sets on a deployment (defaults applied)."""

    name: str
    pipeline_name: str
    description: str
    execution_rule: str
    mode: str
    schedule: str
    inputs_mapping: list[dict[str, Any]]
    outputs_mapping: list[dict[str, Any]]
    status: str
    is_enabled: bool
    pods: list[dict[str, Any]]
    labels: dict[str, str]
    endpoint_token: str


MUTABLE_FIELDS = frozenset(
    {
        "pipeline_name",
        "description",
        "mode",
        "schedule",
        "inputs_mapping",
        "outputs_mapping",
        "status",
        "is_enabled",
        "pods",
        "labels",
        "endpoint_token",
    }
)
OUTPUT_ONLY_FIELDS = frozenset(
    {
        "human_readable_schedule",
        "next_run_time",
        "create_time",
        "created_by",
        "update_time",
        "updated_by",
        "last_execution_id",
    }
)
IMMUTABLE_FIELDS = frozenset({"name", "execution_rule"})

FILTER_FIELDS = {
    "pipeline_name": FieldSpec(Kind.STRING),
    "execution_rule": FieldSpec(Kind.ENUM, frozenset({"ENDPOINT", "PERIODIC"})),
    "mode": FieldSpec(Kind.ENUM, frozenset({"ELASTIC", "LOW_LATENCY"})),
    "status": FieldSpec(Kind.ENUM, frozenset({"PENDING", "UP", "FAILED", "STANDBY"})),
    "is_enabled": FieldSpec(Kind.BOOL),
    "labels": FieldSpec(Kind.STRING),
}


# What a deployment holds besides its name and enums, as JSON: what one response must carry.
DOCUMENT_FIELDS = (
    "pipeline_name",
    "description",
    "schedule",
    "inputs_mapping",
    "outputs_mapping",
    "pods",
    "labels",
    "endpoint_token",
)
MAX_ENDPOINT_TOKEN = 4096


def check_documents_fit(fields: DeploymentFields, limit: int) -> None:
    """Refuse a deployment larger than `limit` bytes of JSON: every response that carries it
    (GetDeployment, a page of ListDeployments) must stay far below the message limit."""
    size = sum(
        len(json.dumps(getattr(fields, name), separators=(",", ":"))) for name in DOCUMENT_FIELDS
    )
    if size > limit:
        raise ResourceExhausted(
            f"the deployment would take {size} bytes, more than the {limit} a deployment may"
            " hold: keep large mappings and pod lists elsewhere"
        )


def check(
    errors: ValidationCollector, fields: DeploymentFields, prefix: str = "deployment"
) -> None:
    """Every rule over a complete set of deployment fields."""
    check_deployment_name(errors, f"{prefix}.name", fields.name)
    if not fields.pipeline_name:
        errors.add(f"{prefix}.pipeline_name", "is required")
    check_text(errors, f"{prefix}.pipeline_name", fields.pipeline_name, 256)
    check_text(errors, f"{prefix}.description", fields.description)
    check_text(errors, f"{prefix}.schedule", fields.schedule, 256)
    check_text(errors, f"{prefix}.endpoint_token", fields.endpoint_token, MAX_ENDPOINT_TOKEN)
    rule = fields.execution_rule
    cron = fields.schedule
    if rule == "UNSPECIFIED":
        errors.add(f"{prefix}.execution_rule", "is required: ENDPOINT or PERIODIC")
    elif rule == "PERIODIC":
        if not cron:
            errors.add(f"{prefix}.schedule", "is required for a PERIODIC deployment")
        elif len(cron) <= 256 and not schedule.is_valid(cron):
            errors.add(
                f"{prefix}.schedule",
                f"{cron[:80]!r} is not a cron expression (five fields: minute hour day month weekday)",
            )
    elif rule == "ENDPOINT" and cron:
        errors.add(f"{prefix}.schedule", "must be empty for an ENDPOINT deployment")
    check_labels(errors, f"{prefix}.labels", fields.labels)
    check_unique_names(
        errors,
        f"{prefix}.inputs_mapping",
        [m.get("pipeline_input_name", "") for m in fields.inputs_mapping],
    )
    check_unique_names(
        errors,
        f"{prefix}.outputs_mapping",
        [m.get("pipeline_output_name", "") for m in fields.outputs_mapping],
    )
