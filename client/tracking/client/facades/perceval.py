"""Perceval's RunningStatus enum and JobStatus object, read fresh from the server."""

from __future__ import annotations

import datetime as dt
from enum import Enum

from tracking.v1 import status_pb2

from ..sync_client import TrackingClient
from ._common import epoch, status_name


class RunningStatus(Enum):
    """Perceval's numbering of the job statuses (the service's RunningStatus, less one)."""

    WAITING = 0
    RUNNING = 1
    SUCCESS = 2
    ERROR = 3
    CANCELED = 4
    SUSPENDED = 5
    CANCEL_REQUESTED = 6
    UNKNOWN = 7

    @staticmethod
    def from_server_response(res: str) -> RunningStatus:
        """The status of a server name ("completed" is SUCCESS); UNKNOWN if unknown."""
        if res == "completed":
            return RunningStatus.SUCCESS
        try:
            return RunningStatus[res.upper()]
        except KeyError:
            return RunningStatus.UNKNOWN

    @staticmethod
    def to_server_response(status: RunningStatus) -> str:
        """The server name of a status: SUCCESS is "completed", others their lowercase name."""
        return "completed" if status is RunningStatus.SUCCESS else status.name.lower()


class JobStatus:
    """Where a job stands; every property asks the server (GetJobStatus) afresh.

    A missing execution raises the client's NotFound.
    """

    def __init__(self, client: TrackingClient, execution_id: str) -> None:
        self._client = client
        self._execution_id = execution_id

    def _fetch(self) -> status_pb2.JobStatus:
        return self._client.get_job_status(self._execution_id)

    @property
    def status(self) -> RunningStatus:
        value = self._fetch().status
        if value == status_pb2.RUNNING_STATUS_UNSPECIFIED:
            return RunningStatus.UNKNOWN
        return RunningStatus[status_name(value)]

    def _is(self, *statuses: RunningStatus) -> bool:
        return self.status in statuses

    @property
    def waiting(self) -> bool:
        return self._is(RunningStatus.WAITING)

    @property
    def running(self) -> bool:
        return self._is(RunningStatus.RUNNING, RunningStatus.CANCEL_REQUESTED)

    @property
    def completed(self) -> bool:
        return self._is(RunningStatus.SUCCESS, RunningStatus.ERROR, RunningStatus.CANCELED)

    @property
    def maybe_completed(self) -> bool:
        return self._is(
            RunningStatus.SUCCESS,
            RunningStatus.ERROR,
            RunningStatus.CANCELED,
            RunningStatus.UNKNOWN,
        )

    @property
    def success(self) -> bool:
        return self._is(RunningStatus.SUCCESS)

    @property
    def failed(self) -> bool:
        return self._is(RunningStatus.CANCELED, RunningStatus.ERROR)

    @property
    def canceled(self) -> bool:
        return self._is(RunningStatus.CANCELED)

    @property
    def unknown(self) -> bool:
        return self._is(RunningStatus.UNKNOWN)

    @property
    def progress(self) -> float:
        return self._fetch().progress

    @property
    def duration(self) -> float:
        """Seconds from start to end (to now while running), or as update_times reported
        them; 0 if never started."""
        return self._fetch().duration.ToTimedelta().total_seconds()

    @property
    def creation_timestamp(self) -> float | None:
        return epoch(self._fetch().create_time)

    @property
    def start_timestamp(self) -> float | None:
        """Epoch seconds of the start; None while the job has not started."""
        return epoch(self._fetch().start_time)

    @property
    def stop_message(self) -> str | None:
        """Why the job stopped; None for a successful job."""
        status = self._fetch()
        if status.status == status_pb2.RUNNING_STATUS_SUCCESS:
            return None
        return status.stop_message or None

    # Worker side

    def start_run(self) -> None:
        """WAITING -> RUNNING; the server sets the start time."""
        self._client.start(self._execution_id)

    def stop_run(
        self, cause: RunningStatus = RunningStatus.SUCCESS, mesg: str | None = None
    ) -> None:
        """End the job with `cause` (SUCCESS, ERROR, CANCELED or UNKNOWN)."""
        self._client.stop(self._execution_id, cause.name, mesg or "")

    def update_progress(self, progress: float, phase: str | None = None) -> None:
        """Report progress (0 to 1) and, if given, the phase."""
        self._client.update_progress(self._execution_id, progress, phase=phase or "")

    def update_times(self, creation_datetime: float, start_time: float, duration: float) -> None:
        """Set the creation and start timestamps (epoch seconds) and the duration (seconds)
        measured by the platform that ran the job; `duration` is shown from then on."""
        self._client.set_times(
            self._execution_id,
            create_time=dt.datetime.fromtimestamp(creation_datetime, dt.UTC),
            start_time=dt.datetime.fromtimestamp(start_time, dt.UTC),
            duration=dt.timedelta(seconds=duration),
        )
