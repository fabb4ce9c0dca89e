"""The RunningStatus state machine, checked over every (status, action) pair."""

from __future__ import annotations

import pytest

from tracking.service.domain import status as machine
from tracking.service.domain.errors import FailedPrecondition, InvalidArgument
from tracking.service.domain.status import RunningStatus as S

ALLOWED = {
    # action: {from: to}
    "start": {S.WAITING: S.RUNNING, S.SUSPENDED: S.RUNNING, S.UNKNOWN: S.RUNNING},
    "resume": {S.SUSPENDED: S.RUNNING},
    "suspend": {S.RUNNING: S.SUSPENDED},
    "progress": {S.RUNNING: S.RUNNING, S.CANCEL_REQUESTED: S.CANCEL_REQUESTED},
    "cancel": {
        S.WAITING: S.CANCELED,
        S.SUSPENDED: S.CANCELED,
        S.RUNNING: S.CANCEL_REQUESTED,
        S.UNKNOWN: S.CANCEL_REQUESTED,
        S.CANCEL_REQUESTED: S.CANCEL_REQUESTED,
    },
    "stop SUCCESS": {S.RUNNING: S.SUCCESS, S.CANCEL_REQUESTED: S.SUCCESS, S.UNKNOWN: S.SUCCESS},
    "stop ERROR": {s: S.ERROR for s in S if not s.is_terminal},
    "stop CANCELED": {s: S.CANCELED for s in S if not s.is_terminal},
    "stop UNKNOWN": {S.RUNNING: S.UNKNOWN, S.SUSPENDED: S.UNKNOWN, S.CANCEL_REQUESTED: S.UNKNOWN},
}


def apply(action: str, current: S) -> S:
    if action.startswith("stop "):
        return machine.stop(current, S(action.removeprefix("stop ")))
    result: S = getattr(machine, action)(current)
    return result


@pytest.mark.parametrize("action", sorted(ALLOWED))
@pytest.mark.parametrize("current", list(S))
def test_every_pair(action: str, current: S) -> None:
    expected = ALLOWED[action].get(current)
    if expected is None:
        with pytest.raises(FailedPrecondition) as caught:
            apply(action, current)
        assert str(current) in caught.value.message
    else:
        assert apply(action, current) is expected


def test_terminal_states_are_left_by_nothing() -> None:
    for terminal in (S.SUCCESS, S.ERROR, S.CANCELED):
        assert terminal.is_terminal
        assert all(terminal not in table for table in ALLOWED.values())


def test_stop_cause_must_be_an_end() -> None:
    for cause in (S.WAITING, S.RUNNING, S.SUSPENDED, S.CANCEL_REQUESTED):
        with pytest.raises(InvalidArgument) as caught:
            machine.stop(S.RUNNING, cause)
        assert caught.value.violations[0].field == "stop.cause"


def test_illegal_message_names_both_states() -> None:
    with pytest.raises(FailedPrecondition) as caught:
        machine.suspend(S.WAITING)
    assert caught.value.message == "cannot go from WAITING to SUSPENDED"
    with pytest.raises(FailedPrecondition) as caught:
        machine.start(S.SUCCESS)
    assert "from SUCCESS to RUNNING" in caught.value.message
    assert "terminal" in caught.value.message
