"""Foundations' deployment object (job_name, get_job_status, fetch_job_results, ...)."""

from __future__ import annotations

from typing import Any

from tracking.v1 import execution_pb2, status_pb2

from ..errors import RemoteException
from ..sync_client import TrackingClient
from ._common import all_log_entries, epoch, short_name, status_name, struct_dict

_S = status_pb2
_JOB_STATUS: dict[int, str] = {
    _S.RUNNING_STATUS_WAITING: "Queued",
    _S.RUNNING_STATUS_RUNNING: "Running",
    _S.RUNNING_STATUS_SUSPENDED: "Running",
    _S.RUNNING_STATUS_CANCEL_REQUESTED: "Running",
    _S.RUNNING_STATUS_SUCCESS: "Completed",
}  # everything else (ERROR, CANCELED, UNKNOWN): "Error"
# Foundations knows four answers, and "Error" is a failure, which ends a job. UNKNOWN (the
# worker lost track of the job, or went silent) is not a run in progress: nobody may ever
# report on it again, and a wait for it would never end. So it is "Error" and complete
# (should the worker come back, the job is "Running" again).
_COMPLETE = frozenset({"Completed", "Error"})


def _job_status(status: int) -> str:
    return _JOB_STATUS.get(status, "Error")


def _is_complete(status: int) -> bool:
    return _job_status(status) in _COMPLETE


class Deployment:
    """The job an execution runs, seen as a Foundations deployment.

    Failures of the service (e.g. NotFound for a missing execution) are raised as the
    client's RemoteException subclasses.
    """

    def __init__(self, client: TrackingClient, execution_id: str) -> None:
        self._client = client
        self._execution_id = execution_id

    def job_name(self) -> str:
        """The job's name (its execution id when it was given none)."""
        execution = self._client.get_execution(self._execution_id)
        return execution.job_name or execution.execution_id

    def is_job_complete(self) -> bool:
        """True once get_job_status() is "Completed" or "Error" (SUCCESS, ERROR, CANCELED,
        UNKNOWN)."""
        return _is_complete(self._client.get_job_status(self._execution_id).status)

    def get_job_status(self) -> str:
        """ "Queued", "Running", "Completed" or "Error"."""
        return _job_status(self._client.get_job_status(self._execution_id).status)

    def wait_for_deployment_to_complete(self, wait_seconds: float = 5) -> None:
        """Block until the job is complete; `wait_seconds` is unused (the status is watched)."""
        del wait_seconds
        for event in self._client.watch(execution_id=self._execution_id):
            if _is_complete(event.job_status.status):
                return

    def fetch_job_results(self, wait_seconds: float = 5) -> dict[str, Any]:
        """Wait for the job, then return provenance, global_stage_context, stage_contexts.

        Raises RemoteException with the stop message if the job is "Error": ended in ERROR,
        or UNKNOWN (its worker lost track of it), as get_job_status() says.
        """
        self.wait_for_deployment_to_complete(wait_seconds)
        execution = self._client.get_execution(self._execution_id)
        status = execution.job_status
        if status.status in (_S.RUNNING_STATUS_ERROR, _S.RUNNING_STATUS_UNKNOWN):
            raise RemoteException(status.stop_message or "job failed")
        logs = all_log_entries(self._client, self._execution_id)
        stages = [_step_context(execution, step, i, logs) for i, step in enumerate(execution.steps)]
        return {
            "provenance": _provenance(execution),
            "global_stage_context": _global_context(execution, logs),
            "stage_contexts": {stage["uuid"]: stage for stage in stages},
        }


def _provenance(execution: execution_pb2.Execution) -> dict[str, Any]:
    return {
        "execution_id": execution.execution_id,
        "deployment_name": execution.deployment_name,
        "pipeline_name": execution.pipeline_name,
        "job_name": execution.job_name,
        "job_type": short_name(execution_pb2.JobType, execution.job_type),
        "experiment_name": execution.experiment_name,
        "model_run_id": execution.model_run_id,
        "created_by": execution.created_by,
        "labels": dict(execution.labels),
    }


def _context(
    *,
    uuid: str,
    stage_log: list[str],
    meta_data: dict[str, Any],
    stage_output: Any,
    error_information: str | None,
    start_time: float | None,
    end_time: float | None,
    data_uuid: str | None,
) -> dict[str, Any]:
    delta = end_time - start_time if start_time is not None and end_time is not None else None
    return {
        "uuid": uuid,
        "stage_log": stage_log,
        "meta_data": meta_data,
        "data_uuid": data_uuid,
        "stage_output": stage_output,
        "error_information": error_information,
        "start_time": start_time,
        "end_time": end_time,
        "delta_time": delta,
        "is_context_aware": False,
        "used_cache": False,
        "cache_uuid": None,
        "cache_read_time": None,
        "cache_write_time": None,
        "has_stage_output": bool(stage_output),
    }


def _global_context(
    execution: execution_pb2.Execution, logs: list[execution_pb2.LogEntry]
) -> dict[str, Any]:
    status = execution.job_status
    return _context(
        uuid=execution.execution_id,
        stage_log=[entry.message for entry in logs],
        meta_data={
            "status": status_name(status.status),
            "progress": status.progress,
            "phase": status.phase,
            "labels": dict(execution.labels),
        },
        data_uuid=execution.model_run_id or None,
        stage_output=struct_dict(execution.result),
        # A success has no error, whatever message an older server kept with it.
        error_information=None
        if status.status == _S.RUNNING_STATUS_SUCCESS
        else status.stop_message or None,
        start_time=epoch(status.start_time),
        end_time=epoch(status.end_time),
    )


def _step_context(
    execution: execution_pb2.Execution,
    step: execution_pb2.Step,
    index: int,
    logs: list[execution_pb2.LogEntry],
) -> dict[str, Any]:
    return _context(
        uuid=f"{execution.execution_id}/{step.name or index}",
        stage_log=[entry.message for entry in logs if entry.step_name == step.name],
        meta_data={
            "status": status_name(step.status) if step.status else None,
            "commit_id": step.commit_id,
            "repository_url": step.repository_url,
            "repository_branch": step.repository_branch,
            "requirements_path": step.requirements_path,
            "origin": short_name(execution_pb2.StepOrigin, step.origin),
        },
        data_uuid=None,
        stage_output=None,
        error_information="step failed" if step.status == _S.RUNNING_STATUS_ERROR else None,
        start_time=epoch(step.start_time),
        end_time=epoch(step.end_time),
    )
