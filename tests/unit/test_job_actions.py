"""What start, stop, reports and cancels change on a job (domain/job_actions.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from tracking.service.domain import job_actions
from tracking.service.domain.errors import FailedPrecondition, InvalidArgument
from tracking.service.domain.job_actions import (
    Heartbeat,
    Move,
    Progress,
    Resume,
    Start,
    Stop,
    Suspend,
    Times,
)
from tracking.service.domain.status import RunningStatus as S

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NOW = T0 + timedelta(minutes=5)


@dataclass
class Job:
    status: str = S.WAITING.value
    progress: float = 0.0
    phase: str = ""
    stop_message: str = ""
    cancel_reason: str = ""
    create_time: datetime = T0
    reported_create_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    reported_duration_seconds: float | None = None
    heartbeat_timeout_seconds: float = 30.0
    lapsed_from: str = ""


RUNNING = Job(status=S.RUNNING.value, start_time=T0 + timedelta(minutes=1), phase="training")


def stop(cause: S, message: str = "") -> Stop:
    return Stop(cause=cause, message=message)


def test_a_start_sets_the_start_time_once_and_clears_the_stop_message() -> None:
    job = Job(stop_message="was unknown")
    action = Start(phase="loading", heartbeat_timeout_seconds=60.0)
    assert job_actions.transition(job, action, NOW) is S.RUNNING
    assert job == Job(
        status="RUNNING",
        start_time=NOW,
        phase="loading",
        heartbeat_timeout_seconds=60.0,
    )
    suspended = replace(job, status="SUSPENDED")
    job_actions.transition(suspended, Start(), NOW + timedelta(hours=1))
    assert suspended.start_time == NOW
    assert suspended.phase == "loading"
    assert suspended.heartbeat_timeout_seconds == 60.0


def test_a_suspend_keeps_its_reason_as_the_phase_and_a_resume_changes_only_the_status() -> None:
    job = replace(RUNNING)
    assert job_actions.transition(job, Suspend(reason="preempted"), NOW) is (S.SUSPENDED)
    assert job == replace(RUNNING, status="SUSPENDED", phase="preempted")
    assert job_actions.transition(job, Resume(), NOW) is S.RUNNING
    assert job == replace(RUNNING, phase="preempted")


def test_a_success_is_complete_and_its_message_becomes_the_phase() -> None:
    job = replace(RUNNING, progress=0.4)
    assert job_actions.transition(job, stop(S.SUCCESS, "all epochs"), NOW) is S.SUCCESS
    assert job == replace(RUNNING, status="SUCCESS", progress=1.0, phase="all epochs", end_time=NOW)
    quiet = replace(RUNNING)
    job_actions.transition(quiet, stop(S.SUCCESS), NOW)
    assert quiet.phase == "training"
    assert quiet.stop_message == ""


def test_an_error_keeps_its_message_and_an_unknown_has_no_end() -> None:
    failed = replace(RUNNING, progress=0.4)
    job_actions.transition(failed, stop(S.ERROR, "out of memory"), NOW)
    assert failed == replace(
        RUNNING, status="ERROR", progress=0.4, stop_message="out of memory", end_time=NOW
    )
    lost = replace(RUNNING)
    job_actions.transition(lost, stop(S.UNKNOWN, "node gone"), NOW)
    assert lost == replace(RUNNING, status="UNKNOWN", stop_message="node gone")


def test_an_end_after_a_reported_duration_is_start_plus_duration() -> None:
    job = replace(RUNNING, reported_duration_seconds=90.0)
    job_actions.transition(job, stop(S.SUCCESS), NOW)
    assert job.end_time == T0 + timedelta(minutes=2, seconds=30)


@pytest.mark.parametrize(
    ("job", "action", "error"),
    [
        (Job(), Resume(), FailedPrecondition),
        (Job(status="SUCCESS"), Start(phase="again"), FailedPrecondition),
        (replace(RUNNING), stop(S.WAITING, "no"), InvalidArgument),
    ],
)
def test_a_refused_move_changes_nothing(job: Job, action: Move, error: type[Exception]) -> None:
    before = replace(job)
    with pytest.raises(error):
        job_actions.transition(job, action, NOW)
    assert job == before


def test_reports_leave_the_status_as_it_is() -> None:
    job = replace(RUNNING, progress=0.1)
    assert job_actions.report(job, Heartbeat(), NOW) == []
    assert job == replace(RUNNING, progress=0.1)
    progress = Progress(progress=0.5)
    assert job_actions.report(job, progress, NOW) == ["PROGRESS"]
    assert job == replace(RUNNING, progress=0.5)
    with pytest.raises(FailedPrecondition):
        job_actions.report(Job(), progress, NOW)


def test_reported_times_change_the_shown_times_only() -> None:
    job = replace(RUNNING)
    action = Times(create_time=T0 - timedelta(hours=1), duration=timedelta(seconds=10))
    assert job_actions.report(job, action, NOW) == ["TIMES"]
    assert job == replace(
        RUNNING, reported_create_time=T0 - timedelta(hours=1), reported_duration_seconds=10.0
    )
    assert job_actions.report(job, action, NOW) == []


def test_a_rejoining_worker_sets_only_what_its_start_gives() -> None:
    job = replace(RUNNING, status="CANCEL_REQUESTED")
    job_actions.rejoin(job, Start())
    assert job == replace(RUNNING, status="CANCEL_REQUESTED")
    job_actions.rejoin(job, Start(phase="back", heartbeat_timeout_seconds=5))
    assert job == replace(
        RUNNING, status="CANCEL_REQUESTED", phase="back", heartbeat_timeout_seconds=5.0
    )


def test_a_cancel_ends_a_job_that_is_not_running() -> None:
    job = Job()
    assert job_actions.cancel(job, "", NOW) == ["STATUS", "CANCEL_REQUEST"]
    assert job == Job(status="CANCELED", end_time=NOW, stop_message="canceled")
    with pytest.raises(FailedPrecondition):
        job_actions.cancel(job, "again", NOW)


def test_a_cancel_asks_a_running_job_once() -> None:
    job = replace(RUNNING)
    assert job_actions.cancel(job, "not needed", NOW) == ["STATUS", "CANCEL_REQUEST"]
    assert job == replace(RUNNING, status="CANCEL_REQUESTED", cancel_reason="not needed")
    assert job_actions.cancel(job, "twice", NOW) == []
    assert job.cancel_reason == "not needed"


def test_a_cancel_ends_a_lapsed_job_at_once() -> None:
    job = replace(RUNNING, status="UNKNOWN", lapsed_from="RUNNING", stop_message="silent")
    assert job_actions.cancel(job, "give up", NOW) == ["STATUS", "CANCEL_REQUEST"]
    assert job == replace(
        RUNNING, status="CANCELED", cancel_reason="give up", stop_message="give up", end_time=NOW
    )
