"""Craft AI's SDK for deployments and pipeline executions, as dicts with UTC ISO dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tracking.v1 import deployment_pb2, execution_pb2, io_pb2, status_pb2

from ..errors import NotFound
from ..sync_client import TrackingClient
from ._common import all_log_entries, iso, json_value, none_if_empty, short_name

_D = deployment_pb2
_IO = io_pb2


def _rule(value: int) -> str:
    return short_name(_D.ExecutionRule, value)  # "endpoint" or "periodic"


def _status(value: int) -> str:
    return short_name(status_pb2.RunningStatus, value)  # "waiting", "running", "success", ...


class CraftAiSdk:
    """Deployments and pipeline executions; missing ones raise the client's NotFound."""

    def __init__(self, client: TrackingClient) -> None:
        self._client = client

    # Deployments

    def list_deployments(self) -> list[dict[str, Any]]:
        """Every deployment: name, pipeline_name, execution_rule, is_enabled, created_at."""
        return [
            {
                "name": d.name,
                "pipeline_name": d.pipeline_name,
                "execution_rule": _rule(d.execution_rule),
                "is_enabled": d.is_enabled,
                "created_at": iso(d.create_time),
            }
            for d in self._client.list_deployments()
        ]

    def get_deployment(self, deployment_name: str) -> dict[str, Any]:
        """A deployment; endpoint_token, schedule and pods only where the seed has them."""
        d = self._client.get_deployment(deployment_name)
        low_latency = d.mode == _D.DEPLOYMENT_MODE_LOW_LATENCY
        info: dict[str, Any] = {
            "name": d.name,
            "mode": "low_latency" if low_latency else "elastic",
            "pipeline": {"name": d.pipeline_name},
            "inputs_mapping": [_input_mapping(m) for m in d.inputs_mapping],
            "outputs_mapping": [_output_mapping(m) for m in d.outputs_mapping],
        }
        if d.execution_rule == _D.EXECUTION_RULE_ENDPOINT:
            info["endpoint_token"] = d.endpoint_token
        if d.execution_rule == _D.EXECUTION_RULE_PERIODIC:
            info["schedule"] = d.schedule
            info["human_readable_schedule"] = d.human_readable_schedule
        info.update(
            created_at=iso(d.create_time),
            created_by=d.created_by,
            updated_at=iso(d.update_time),
            updated_by=d.updated_by,
            last_execution_id=none_if_empty(d.last_execution_id),
            is_enabled=d.is_enabled,
            description=d.description,
            execution_rule=_rule(d.execution_rule),
            status=short_name(_D.DeploymentStatus, d.status or _D.DEPLOYMENT_STATUS_PENDING),
        )
        if low_latency:
            info["pods"] = [{"pod_id": p.pod_id, "status": p.status} for p in d.pods]
        return info

    def delete_deployment(self, deployment_name: str) -> dict[str, Any]:
        """Delete a deployment and its executions: {name, execution_rule}."""
        deleted = self._client.delete_deployment(deployment_name)
        return {"name": deleted.name, "execution_rule": _rule(deleted.execution_rule)}

    # Executions

    def get_pipeline_execution(self, execution_id: str) -> dict[str, Any]:
        """An execution with its steps, inputs and outputs."""
        e = self._client.get_execution(execution_id)
        return {
            "execution_id": e.execution_id,
            "status": _status(e.job_status.status),
            "created_at": iso(e.job_status.create_time),
            "created_by": self._created_by(e),
            "end_date": iso(e.job_status.end_time),
            "pipeline_name": e.pipeline_name,
            "deployment_name": e.deployment_name,
            "steps": [_step(s) for s in e.steps],
            "inputs": [_input(i) for i in e.inputs],
            "outputs": [_output(o) for o in e.outputs],
        }

    def _created_by(self, e: execution_pb2.Execution) -> str:
        """Who created the deployment an execution ran in (the seed's rule), or who created
        the execution when it ran in none."""
        if not e.deployment_name:
            return e.created_by
        try:
            return self._client.get_deployment(e.deployment_name).created_by
        except NotFound:  # deleted meanwhile, with its executions: e is all there is
            return e.created_by

    def delete_pipeline_execution(self, execution_id: str) -> dict[str, Any]:
        """Delete an execution and its logs: {execution_id}."""
        return {"execution_id": self._client.delete_execution(execution_id).execution_id}

    def get_pipeline_execution_input(self, execution_id: str, input_name: str) -> dict[str, Any]:
        return _input(self._client.get_execution_input(execution_id, input_name))

    def get_pipeline_execution_output(self, execution_id: str, output_name: str) -> dict[str, Any]:
        return _output(self._client.get_execution_output(execution_id, output_name))

    def get_pipeline_execution_logs(
        self,
        execution_id: str,
        from_datetime: dt.datetime | None = None,
        to_datetime: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Log lines, oldest first: {message, timestamp, stream ("stdout"/"stderr")}; every
        line in the window, or the first `limit`."""
        entries = all_log_entries(
            self._client, execution_id, from_time=from_datetime, to_time=to_datetime, limit=limit
        )
        return [
            {
                "message": entry.message,
                "timestamp": iso(entry.timestamp),
                "stream": short_name(execution_pb2.LogStream, entry.stream or 1),
            }
            for entry in entries
        ]


def _input_mapping(m: io_pb2.InputMapping) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pipeline_input_name": m.pipeline_input_name,
        "data_type": m.data_type,
        "description": m.description,
    }
    if m.source == _IO.INPUT_SOURCE_CONSTANT:
        out["constant_value"] = m.constant_value
    if m.source == _IO.INPUT_SOURCE_ENVIRONMENT_VARIABLE:
        out["environment_variable_name"] = m.environment_variable_name
    if m.source == _IO.INPUT_SOURCE_ENDPOINT:
        out["endpoint_input_name"] = m.endpoint_input_name
    if m.source == _IO.INPUT_SOURCE_IS_NULL:
        out["is_null"] = True
    if m.source == _IO.INPUT_SOURCE_DATASTORE:
        out["datastore_path"] = m.datastore_path
    if m.is_required:
        out["is_required"] = True
    if m.default_value:
        out["default_value"] = m.default_value
    return out


def _output_mapping(m: io_pb2.OutputMapping) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pipeline_output_name": m.pipeline_output_name,
        "data_type": m.data_type,
        "description": m.description,
    }
    if m.destination == _IO.OUTPUT_DESTINATION_ENDPOINT:
        out["endpoint_output_name"] = m.endpoint_output_name
    if m.destination == _IO.OUTPUT_DESTINATION_IS_NULL:
        out["is_null"] = True
    if m.destination == _IO.OUTPUT_DESTINATION_DATASTORE:
        out["datastore_path"] = m.datastore_path
    return out


def _step(s: execution_pb2.Step) -> dict[str, Any]:
    return {
        "name": s.name,
        "status": _status(s.status) if s.status else None,
        "start_date": iso(s.start_time),
        "end_date": iso(s.end_time),
        "commit_id": s.commit_id,
        "repository_url": s.repository_url,
        "repository_branch": s.repository_branch,
        "requirements_path": s.requirements_path,
        "origin": short_name(execution_pb2.StepOrigin, s.origin) if s.origin else None,
    }


def _input(i: io_pb2.ExecutionInput) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pipeline_input_name": i.name,
        "data_type": i.data_type,
        "source": short_name(_IO.InputSource, i.source) if i.source else None,
    }
    if i.source == _IO.INPUT_SOURCE_ENDPOINT:
        out["endpoint_input_name"] = i.endpoint_input_name
    if i.source == _IO.INPUT_SOURCE_CONSTANT:
        out["constant_value"] = i.constant_value
    if i.source == _IO.INPUT_SOURCE_ENVIRONMENT_VARIABLE:
        out["environment_variable_name"] = i.environment_variable_name
    if i.source == _IO.INPUT_SOURCE_IS_NULL:
        out["is_null"] = True
    if i.source == _IO.INPUT_SOURCE_DATASTORE:
        out["datastore_path"] = i.datastore_path
    out["value"] = json_value(i.value, i.HasField("value"))
    return out


def _output(o: io_pb2.ExecutionOutput) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pipeline_output_name": o.name,
        "data_type": o.data_type,
        "destination": short_name(_IO.OutputDestination, o.destination) if o.destination else None,
    }
    if o.destination == _IO.OUTPUT_DESTINATION_ENDPOINT:
        out["endpoint_output_name"] = o.endpoint_output_name
    if o.destination == _IO.OUTPUT_DESTINATION_IS_NULL:
        out["is_null"] = True
    if o.destination == _IO.OUTPUT_DESTINATION_DATASTORE:
        out["datastore_path"] = o.datastore_path
    out["value"] = json_value(o.value, o.HasField("value"))
    return out
