"""Rules an execution must follow: what a creator may set, filters, documents."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tracking.service.domain.errors import ResourceExhausted, ValidationCollector
from tracking.service.domain.filters import FieldSpec, Kind
from tracking.service.domain.leases import check_heartbeat_timeout
from tracking.service.domain.names import (
    check_deployment_name,
    check_execution_id,
    check_labels,
    check_text,
    check_unique_names,
)
from tracking.service.domain.status import RunningStatus

FILTER_FIELDS = {
    "deployment_name": FieldSpec(Kind.STRING),
    "pipeline_name": FieldSpec(Kind.STRING),
    "status": FieldSpec(Kind.ENUM, frozenset(s.value for s in RunningStatus)),
    "job_type": FieldSpec(
        Kind.ENUM, frozenset({"TRAIN", "INFERENCE", "TRAIN_INFERENCE", "UNSPECIFIED"})
    ),
    "experiment_name": FieldSpec(Kind.STRING),
    "model_run_id": FieldSpec(Kind.STRING),
    "create_time": FieldSpec(Kind.TIME),
    "labels": FieldSpec(Kind.STRING),
}


@dataclass(frozen=True, slots=True)
class NewExecution:
    """What a creator sets on an execution (CreateExecution)."""

    execution_id: str  # empty: the server names it
    deployment_name: str  # empty: none
    pipeline_name: str  # empty: the deployment's
    job_name: str
    job_type: str
    experiment_name: str
    model_run_id: str
    steps: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    labels: dict[str, str]
    command: list[str]
    heartbeat_timeout_seconds: float | None  # None: the server's default
    trace_parent: str = ""  # the W3C traceparent the creator sent (already checked)

    def documents(self) -> dict[str, Any]:
        """Its documents, as check_documents_fit weighs them: nothing is output yet."""
        return {
            "steps": self.steps,
            "inputs": self.inputs,
            "outputs": [],
            "result": {},
            "export_paths": {},
            "source_views": {},
        }


def check(errors: ValidationCollector, new: NewExecution, prefix: str = "execution") -> None:
    if new.execution_id:
        check_execution_id(errors, f"{prefix}.execution_id", new.execution_id)
    if new.deployment_name:
        check_deployment_name(errors, f"{prefix}.deployment_name", new.deployment_name)
    for name, value in (
        ("pipeline_name", new.pipeline_name),
        ("job_name", new.job_name),
        ("experiment_name", new.experiment_name),
        ("model_run_id", new.model_run_id),
    ):
        check_text(errors, f"{prefix}.{name}", value, 256)
    check_labels(errors, f"{prefix}.labels", new.labels)
    check_unique_names(errors, f"{prefix}.inputs", [i.get("name", "") for i in new.inputs])
    check_unique_names(errors, f"{prefix}.steps", [s.get("name", "") for s in new.steps])
    if new.heartbeat_timeout_seconds is not None:
        check_heartbeat_timeout(
            errors, f"{prefix}.heartbeat_timeout", new.heartbeat_timeout_seconds
        )
    check_command(errors, f"{prefix}.command", new.command)


MAX_COMMAND_CHARACTERS = 65536


def check_command(errors: ValidationCollector, field: str, command: list[str]) -> None:
    size = sum(len(part) for part in command)
    if size > MAX_COMMAND_CHARACTERS:
        errors.add(field, f"at most {MAX_COMMAND_CHARACTERS} characters in all, got {size}")


DOCUMENT_FIELDS = ("steps", "inputs", "outputs", "result", "export_paths", "source_views")


def _json_size(document: Any) -> int:
    """The length of a document as compact JSON (an empty one, the most common, without
    encoding it)."""
    if document == [] or document == {}:
        return 2
    return len(json.dumps(document, separators=(",", ":")))


def check_documents_fit(documents: dict[str, Any], limit: int) -> None:
    """Refuse a change that would make an execution's documents larger than `limit` bytes.

    Each call is bounded by the message size, but calls add up: without a budget an
    execution could grow past what one GetExecution response can carry.
    """
    size = sum(_json_size(documents[name]) for name in DOCUMENT_FIELDS)
    if size > limit:
        raise ResourceExhausted(
            f"the execution's steps, inputs, outputs and result would take {size} bytes, more"
            f" than the {limit} an execution may hold: keep large values elsewhere and record"
            " where (export_paths)"
        )
