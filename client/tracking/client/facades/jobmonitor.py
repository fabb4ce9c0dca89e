"""JobMonitor.get_status(): an execution as a JSON-like status dict."""

from __future__ import annotations

from typing import Any

from tracking.v1 import execution_pb2, status_pb2

from ..sync_client import TrackingClient
from ._common import iso, none_if_empty, short_name, struct_dict

_S = status_pb2
_STATUS = {
    _S.RUNNING_STATUS_WAITING: "QUEUED",
    _S.RUNNING_STATUS_RUNNING: "RUNNING",
    _S.RUNNING_STATUS_SUSPENDED: "RUNNING",
    _S.RUNNING_STATUS_CANCEL_REQUESTED: "RUNNING",
    _S.RUNNING_STATUS_SUCCESS: "COMPLETED",
    _S.RUNNING_STATUS_CANCELED: "CANCELED",
}  # everything else (ERROR, UNKNOWN): "FAILED"


class JobMonitor:
    """The status of one job (execution); a missing one raises the client's NotFound."""

    def __init__(self, client: TrackingClient, execution_id: str) -> None:
        self._client = client
        self._execution_id = execution_id

    def get_status(self) -> dict[str, Any]:
        """job_id, status, started_at (creation), finished_at, updated_at, experiment_name,
        job_type, model_run_id, result, export_paths, source_views."""
        execution = self._client.get_execution(self._execution_id)
        status = execution.job_status
        job_type = execution.job_type
        return {
            "job_id": execution.execution_id,
            "status": _STATUS.get(status.status, "FAILED"),
            "started_at": iso(status.create_time),
            "finished_at": iso(status.end_time),
            "updated_at": iso(status.update_time),
            "experiment_name": none_if_empty(execution.experiment_name),
            "job_type": short_name(execution_pb2.JobType, job_type) if job_type else None,
            "model_run_id": none_if_empty(execution.model_run_id),
            "result": struct_dict(execution.result),
            "export_paths": dict(execution.export_paths),
            "source_views": dict(execution.source_views),
        }
