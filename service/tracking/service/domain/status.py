"""The RunningStatus state machine: which action may move a job from where to where."""

from __future__ import annotations

from enum import StrEnum

from tracking.service.domain.errors import FailedPrecondition, InvalidArgument


class RunningStatus(StrEnum):
    WAITING = "WAITING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    CANCELED = "CANCELED"
    SUSPENDED = "SUSPENDED"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({RunningStatus.SUCCESS, RunningStatus.ERROR, RunningStatus.CANCELED})
# The same, as stored (the status column holds the values).
TERMINAL_VALUES = frozenset(s.value for s in TERMINAL)
STOP_CAUSES = frozenset(TERMINAL | {RunningStatus.UNKNOWN})

S = RunningStatus
# target status -> the statuses it may be reached from
_ALLOWED_FROM: dict[RunningStatus, frozenset[RunningStatus]] = {
    S.RUNNING: frozenset({S.WAITING, S.SUSPENDED, S.UNKNOWN}),
    S.SUSPENDED: frozenset({S.RUNNING}),
    S.CANCEL_REQUESTED: frozenset({S.RUNNING, S.UNKNOWN}),
    S.SUCCESS: frozenset({S.RUNNING, S.CANCEL_REQUESTED, S.UNKNOWN}),
    S.ERROR: frozenset({S.WAITING, S.RUNNING, S.SUSPENDED, S.CANCEL_REQUESTED, S.UNKNOWN}),
    S.CANCELED: frozenset({S.WAITING, S.RUNNING, S.SUSPENDED, S.CANCEL_REQUESTED, S.UNKNOWN}),
    S.UNKNOWN: frozenset({S.RUNNING, S.SUSPENDED, S.CANCEL_REQUESTED}),
    S.WAITING: frozenset(),
}
# statuses in which a worker may report progress without changing status
_PROGRESS_IN = frozenset({S.RUNNING, S.CANCEL_REQUESTED})


def illegal(current: RunningStatus, target: RunningStatus) -> FailedPrecondition:
    reason = " (a terminal status never changes)" if current.is_terminal else ""
    return FailedPrecondition(f"cannot go from {current} to {target}{reason}")


def check_transition(current: RunningStatus, target: RunningStatus) -> None:
    """Raise FailedPrecondition naming both states unless current -> target is allowed."""
    if current not in _ALLOWED_FROM[target]:
        raise illegal(current, target)


def start(current: RunningStatus) -> RunningStatus:
    check_transition(current, S.RUNNING)
    return S.RUNNING


def resume(current: RunningStatus) -> RunningStatus:
    if current is not S.SUSPENDED:
        raise illegal(current, S.RUNNING)
    return S.RUNNING


def suspend(current: RunningStatus) -> RunningStatus:
    check_transition(current, S.SUSPENDED)
    return S.SUSPENDED


def stop(current: RunningStatus, cause: RunningStatus) -> RunningStatus:
    if cause not in STOP_CAUSES:
        raise InvalidArgument.of(
            "stop.cause", f"must be SUCCESS, ERROR, CANCELED or UNKNOWN, not {cause}"
        )
    check_transition(current, cause)
    return cause


def progress(current: RunningStatus, what: str = "progress") -> RunningStatus:
    """Progress and heartbeats leave the status as it is; only a running job sends them."""
    if current not in _PROGRESS_IN:
        raise FailedPrecondition(
            f"cannot report {what} in {current}: only in RUNNING or CANCEL_REQUESTED"
        )
    return current


def cancel(current: RunningStatus) -> RunningStatus:
    """WAITING and SUSPENDED end at once; a running job is asked to stop."""
    if current in (S.WAITING, S.SUSPENDED):
        return S.CANCELED
    if current is S.CANCEL_REQUESTED:
        return current
    check_transition(current, S.CANCEL_REQUESTED)
    return S.CANCEL_REQUESTED
