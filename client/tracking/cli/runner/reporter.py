"""Reports a run's status changes, retrying them like the log lines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tracking.cli.runner.persist import Deadline, persist
from tracking.client import AsyncTrackingClient, FailedPrecondition
from tracking.v1 import status_pb2

S = status_pb2


class StatusReporter:
    def __init__(self, client: AsyncTrackingClient, execution_id: str, deadline: Deadline) -> None:
        self._client = client
        self._execution_id = execution_id
        self._deadline = deadline

    async def start(self) -> status_pb2.JobStatus:
        """WAITING -> RUNNING."""
        return await self._change(
            lambda: self._client.start(self._execution_id), S.RUNNING_STATUS_RUNNING
        )

    async def stop(self, cause: status_pb2.RunningStatus, message: str) -> status_pb2.JobStatus:
        """End the execution as `cause` (SUCCESS, ERROR or CANCELED)."""
        return await self._change(
            lambda: self._client.stop(self._execution_id, cause, message), cause
        )

    async def _change(
        self,
        call: Callable[[], Awaitable[status_pb2.JobStatus]],
        target: status_pb2.RunningStatus,
    ) -> status_pb2.JobStatus:
        async def attempt(uncertain: bool) -> status_pb2.JobStatus:
            try:
                return await call()
            except FailedPrecondition:
                # Refused because an uncertain earlier try did it? Then it is done.
                if uncertain:
                    current = await self._client.get_job_status(self._execution_id)
                    if current.status == target:
                        return current
                raise

        return await persist(attempt, self._deadline)
