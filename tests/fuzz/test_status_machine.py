"""Random walks through the job status machine, checked against a model, through the real server.

A Hypothesis state machine creates executions and changes them through the real
server: any action (`act`: UpdateJobStatus start, progress, suspend, resume,
stop with any cause, no action, with no, the right, a stale, a future or a
negative expected_revision; or CancelExecution), runs of moves the model allows
(`legal_moves`, which walk deep into the machine), moves the model refuses
(`refused_move`), and changes beside the status (`side_change`:
SetExecutionOutputs, UpdateStep, AppendLogs). A model written from the
contract, not from the server's code, predicts each answer:

- an accepted change bumps the revision by exactly 1; a refused one, and a cancel
  of a CANCEL_REQUESTED execution, changes nothing;
- a refused transition is FAILED_PRECONDITION; a stale expected_revision is
  ABORTED (checked before the transition); bad progress, cause or action is
  INVALID_ARGUMENT with a BadRequest; nothing else is ever answered;
- SUCCESS, ERROR and CANCELED are never left; AppendLogs after the end is
  FAILED_PRECONDITION; outputs and steps are still accepted after the end.

After every step the server's JobStatus must match the model and no revision may
have gone down. At the end, the WatchStatus history of every ended execution
must list each revision once, in order, with the status the model had then.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.fuzz import strategies as s
from tests.support.factories import create_execution, unique, violations
from tracking.v1 import execution_pb2, io_pb2, status_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

Code = grpc.StatusCode

REQUESTED = int(os.environ.get("TRACKING_FUZZ_EXAMPLES", "0") or 0)
EXAMPLES = max(15, REQUESTED // 50) if REQUESTED else 15
STEPS = 50 if REQUESTED else 40
# Generous: shrinking a failing walk replays it against the server many times.
TIMEOUT = 600 + EXAMPLES * STEPS // 5
MAX_EXECUTIONS = 5

# Plain ints: the model also holds numbers the enum does not define.
WAITING: int = status_pb2.RUNNING_STATUS_WAITING
RUNNING: int = status_pb2.RUNNING_STATUS_RUNNING
SUCCESS: int = status_pb2.RUNNING_STATUS_SUCCESS
ERROR: int = status_pb2.RUNNING_STATUS_ERROR
CANCELED: int = status_pb2.RUNNING_STATUS_CANCELED
SUSPENDED: int = status_pb2.RUNNING_STATUS_SUSPENDED
CANCEL_REQUESTED: int = status_pb2.RUNNING_STATUS_CANCEL_REQUESTED
UNKNOWN: int = status_pb2.RUNNING_STATUS_UNKNOWN

TERMINAL = frozenset({SUCCESS, ERROR, CANCELED})
NOT_ENDED = frozenset({WAITING, RUNNING, SUSPENDED, CANCEL_REQUESTED, UNKNOWN})
DEFINED: frozenset[int] = frozenset(status_pb2.RunningStatus.DESCRIPTOR.values_by_number)

# The contract's transitions: action -> {from: to}.
START = dict.fromkeys((WAITING, SUSPENDED, UNKNOWN), RUNNING)
SUSPEND = {RUNNING: SUSPENDED}
RESUME = {SUSPENDED: RUNNING}
PROGRESS_IN = frozenset({RUNNING, CANCEL_REQUESTED})
STOP_FROM = {
    SUCCESS: frozenset({RUNNING, CANCEL_REQUESTED, UNKNOWN}),
    ERROR: NOT_ENDED,
    CANCELED: NOT_ENDED,
    UNKNOWN: frozenset({RUNNING, SUSPENDED, CANCEL_REQUESTED}),
}
CANCEL = {
    WAITING: CANCELED,
    SUSPENDED: CANCELED,
    RUNNING: CANCEL_REQUESTED,
    UNKNOWN: CANCEL_REQUESTED,
    CANCEL_REQUESTED: CANCEL_REQUESTED,
}


@dataclass(frozen=True)
class Action:
    kind: str  # none | start | progress | suspend | resume | stop | cancel
    progress: float = 0.0
    cause: int = 0
    text: str = ""


# Phases, reasons and messages without NUL: a NUL is refused with INVALID_ARGUMENT, a rule
# of its own that test_bad_input checks; the walks keep to text every transition accepts.
TEXT = s.small_text(20).map(lambda text: text.replace("\x00", ""))
PROGRESS = st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, -0.0]), s.doubles())
# The four legal causes most of the time, then the other statuses and undefined numbers.
CAUSES = st.one_of(
    st.sampled_from([SUCCESS, ERROR, CANCELED, UNKNOWN]),
    st.sampled_from([SUCCESS, ERROR, CANCELED, UNKNOWN]),
    st.sampled_from(sorted(DEFINED)),
    st.sampled_from([-1, 9, 99, 2**31 - 1]),
)
ACTIONS = st.one_of(
    st.builds(Action, kind=st.just("start"), text=TEXT),
    st.builds(Action, kind=st.just("progress"), progress=PROGRESS, text=TEXT),
    st.builds(Action, kind=st.just("suspend"), text=TEXT),
    st.builds(Action, kind=st.just("resume")),
    st.builds(Action, kind=st.just("stop"), cause=CAUSES, text=TEXT),
    st.builds(Action, kind=st.just("stop"), cause=CAUSES, text=TEXT),
    st.builds(Action, kind=st.just("cancel"), text=TEXT),
    st.builds(Action, kind=st.just("none")),
)
# How expected_revision is sent: not at all, right, behind, ahead, negative.
REVISIONS = st.tuples(
    st.sampled_from(["none", "none", "none", "right", "right", "stale", "ahead", "negative"]),
    st.integers(1, 3),
)


@dataclass(frozen=True)
class Outputs:
    names: tuple[str, ...]
    destination: int


@dataclass(frozen=True)
class StepChange:
    name: str
    status: int


@dataclass(frozen=True)
class LogLines:
    count: int


SIDE_CHANGES = st.one_of(
    st.builds(
        Outputs,
        names=st.lists(st.sampled_from(["a", "b", ""]), max_size=3).map(tuple),
        destination=st.sampled_from([0, 1, 4, 99]),
    ),
    st.builds(
        StepChange,
        name=st.sampled_from(["fit", "eval", ""]),
        status=st.one_of(st.sampled_from(sorted(DEFINED)), st.just(99)),
    ),
    st.builds(LogLines, count=st.integers(0, 3)),
)


@dataclass
class Model:
    status: int
    revision: int
    history: dict[int, int]  # revision -> status after it
    log_seq: int = 0
    progress: float = 0.0
    started: bool = False
    highest_seen: int = 0  # the highest revision the server ever reported
    ended_as: int | None = None

    def change(self, status: int) -> None:
        self.revision += 1
        self.status = status
        self.history[self.revision] = status
        if status in TERMINAL and self.ended_as is None:
            self.ended_as = status


@dataclass
class Answer:
    code: grpc.StatusCode
    response: Any = None
    fields: dict[str, str] = field(default_factory=dict)
    details: str = ""


def call(method: Any, request: Message) -> Answer:
    try:
        return Answer(Code.OK, method(request, timeout=30))
    except grpc.RpcError as error:
        code = error.code()
        fields = violations(error) if code == Code.INVALID_ARGUMENT else {}
        return Answer(code, fields=fields, details=error.details() or "")


def expected_update(
    model: Model, action: Action, expected_revision: int | None
) -> tuple[frozenset[grpc.StatusCode], int | None]:
    """The statuses the contract allows for this update, and the status it leads to if OK."""
    malformed = (
        action.kind == "none"
        or (action.kind == "progress" and not 0.0 <= action.progress <= 1.0)
        or (action.kind == "stop" and (action.cause not in DEFINED or action.cause == 0))
        or (expected_revision is not None and expected_revision < 0)
    )
    bad_cause = action.kind == "stop" and action.cause not in STOP_FROM
    stale = expected_revision is not None and expected_revision != model.revision
    if malformed:
        return frozenset({Code.INVALID_ARGUMENT}), None
    if stale and bad_cause:  # both wrong: the contract does not say which is checked first
        return frozenset({Code.ABORTED, Code.INVALID_ARGUMENT}), None
    if stale:
        return frozenset({Code.ABORTED}), None
    if bad_cause:
        return frozenset({Code.INVALID_ARGUMENT}), None
    current = model.status
    target: int | None
    if action.kind == "start":
        target = START.get(current)
    elif action.kind == "suspend":
        target = SUSPEND.get(current)
    elif action.kind == "resume":
        target = RESUME.get(current)
    elif action.kind == "progress":
        target = current if current in PROGRESS_IN else None
    else:
        target = action.cause if current in STOP_FROM[action.cause] else None
    if target is None:
        return frozenset({Code.FAILED_PRECONDITION}), None
    return frozenset({Code.OK}), target


def _name(status: int) -> str:
    return str(status_pb2.RunningStatus.Name(status)) if status in DEFINED else str(status)


class JobStatusMachine(RuleBasedStateMachine):
    executions: Bundle[str] = Bundle("executions")

    def __init__(self, stub: TrackingServiceStub) -> None:
        super().__init__()
        self.stub = stub
        self.models: dict[str, Model] = {}

    def _create(self) -> str:
        execution = create_execution(self.stub, execution_id=unique("fuzz-sm"))
        revision = execution.job_status.revision
        assert execution.job_status.status == WAITING
        assert revision >= 1
        self.models[execution.execution_id] = Model(WAITING, revision, {revision: WAITING})
        return str(execution.execution_id)

    @initialize(target=executions)
    def first_execution(self) -> str:
        return self._create()

    @precondition(lambda self: len(self.models) < MAX_EXECUTIONS)
    @rule(target=executions)
    def another_execution(self) -> str:
        return self._create()

    @rule(execution=executions, action=ACTIONS, revision=REVISIONS)
    def act(self, execution: str, action: Action, revision: tuple[str, int]) -> None:
        """Any action, well-formed or not, on any execution (ended ones too)."""
        if action.kind == "cancel":
            self._cancel(execution, action.text)
        else:
            self._update(execution, action, revision)

    @rule(choices=st.lists(st.integers(0, 99), min_size=1, max_size=4))
    def legal_moves(self, choices: list[int]) -> None:
        """Moves the model allows, on an execution that has not ended, seldom an ending one:
        walks deep into the machine."""
        live = [e for e, model in self.models.items() if model.status not in TERMINAL]
        if not live:
            return
        execution = live[choices[0] % len(live)]
        for choice in choices:
            status = self.models[execution].status
            text = f"move {choice}"
            moves = [Action("start", text=text)] if status in START else []
            moves += [Action("suspend", text=text)] if status in SUSPEND else []
            moves += [Action("resume")] if status in RESUME else []
            if status in PROGRESS_IN:
                moves.append(Action("progress", progress=choice / 99, text=text))
            if status in STOP_FROM[UNKNOWN]:
                moves.append(Action("stop", cause=UNKNOWN, text=text))
            if CANCEL.get(status) == CANCEL_REQUESTED:
                moves.append(Action("cancel", text=text))
            if choice < 20 or not moves:
                moves += [
                    Action("stop", cause=c, text=text) for c in TERMINAL if status in STOP_FROM[c]
                ]
                moves += [Action("cancel", text=text)] if CANCEL.get(status) == CANCELED else []
            if not moves:
                return
            move = moves[choice % len(moves)]
            if move.kind == "cancel":
                self._cancel(execution, move.text)
            else:
                self._update(execution, move, ("none", 0))

    @rule(execution=executions, choice=st.integers(0, 99))
    def refused_move(self, execution: str, choice: int) -> None:
        """A well-formed move the model refuses from the current status."""
        status = self.models[execution].status
        candidates = [
            (Action("start"), START),
            (Action("suspend"), SUSPEND),
            (Action("resume"), RESUME),
            (Action("progress", progress=0.5), dict.fromkeys(PROGRESS_IN)),
            *((Action("stop", cause=c), dict.fromkeys(STOP_FROM[c])) for c in sorted(STOP_FROM)),
        ]
        refused = [action for action, allowed in candidates if status not in allowed]
        if refused:
            self._update(execution, refused[choice % len(refused)], ("none", 0))

    def _update(self, execution: str, action: Action, revision: tuple[str, int]) -> None:
        model = self.models[execution]
        request = pb.UpdateJobStatusRequest(execution_id=execution)
        if action.kind == "start":
            request.start.phase = action.text
        elif action.kind == "progress":
            request.progress.progress = action.progress
            request.progress.phase = action.text
        elif action.kind == "suspend":
            request.suspend.reason = action.text
        elif action.kind == "resume":
            request.resume.SetInParent()
        elif action.kind == "stop":
            request.stop.cause = action.cause  # type: ignore[assignment]  # undefined on purpose
            request.stop.message = action.text
        how, offset = revision
        expected = {
            "none": None,
            "right": model.revision,
            "stale": model.revision - offset,
            "ahead": model.revision + offset,
            "negative": -offset,
        }[how]
        if expected is not None:
            request.expected_revision = expected
        codes, target = expected_update(model, action, expected)
        answer = call(self.stub.UpdateJobStatus, request)
        where = f"{action} with expected_revision={expected} in {_name(model.status)}"
        assert answer.code in codes, f"{where}: {answer.code.name} {answer.details!r}"
        if answer.code == Code.INVALID_ARGUMENT:
            assert answer.fields, f"{where}: INVALID_ARGUMENT without a BadRequest"
            known = {"action", "progress.progress", "stop.cause", "expected_revision"}
            assert set(answer.fields) <= known, f"{where}: {answer.fields}"
        if answer.code != Code.OK:
            return
        assert target is not None
        status = answer.response.job_status
        assert status.status == target, f"{where}: became {_name(status.status)}"
        assert status.revision == model.revision + 1, f"{where}: revision {status.revision}"
        model.change(target)
        if action.kind == "progress":
            assert status.progress == action.progress
            model.progress = action.progress
        if target == SUCCESS:
            assert status.progress == 1.0
            model.progress = 1.0
        if action.kind == "start":
            model.started = True
        if target == SUCCESS:  # a success has no stop message: the text is the phase
            assert (status.stop_message, status.phase) == ("", action.text or status.phase)
        elif target in TERMINAL:
            assert status.stop_message == action.text

    def _cancel(self, execution: str, reason: str) -> None:
        model = self.models[execution]
        answer = call(
            self.stub.CancelExecution,
            pb.CancelExecutionRequest(execution_id=execution, reason=reason),
        )
        where = f"cancel in {_name(model.status)}"
        if model.status in TERMINAL:
            assert answer.code == Code.FAILED_PRECONDITION, f"{where}: {answer.code.name}"
            return
        assert answer.code == Code.OK, f"{where}: {answer.code.name} {answer.details!r}"
        status = answer.response.job_status
        target = CANCEL[model.status]
        assert status.status == target, f"{where}: became {_name(status.status)}"
        if model.status == CANCEL_REQUESTED:
            assert status.revision == model.revision, f"{where}: a repeated cancel changed it"
            return
        assert status.revision == model.revision + 1, f"{where}: revision {status.revision}"
        assert status.cancel_reason == reason
        if target == CANCELED:
            assert status.stop_message == (reason or "canceled")
        model.change(target)

    @rule(execution=executions, change=SIDE_CHANGES)
    def side_change(self, execution: str, change: Outputs | StepChange | LogLines) -> None:
        """A change beside the status: outputs, a step, log lines."""
        if isinstance(change, Outputs):
            self._set_outputs(execution, change.names, change.destination)
        elif isinstance(change, StepChange):
            self._update_step(execution, change.name, change.status)
        else:
            self._append_logs(execution, change.count)

    def _set_outputs(self, execution: str, names: tuple[str, ...], destination: int) -> None:
        model = self.models[execution]
        request = pb.SetExecutionOutputsRequest(
            execution_id=execution,
            outputs=[io_pb2.ExecutionOutput(name=n, destination=destination) for n in names],
        )
        answer = call(self.stub.SetExecutionOutputs, request)
        valid = all(names) and len(set(names)) == len(names)
        valid = valid and (not names or destination in io_pb2.OutputDestination.values())
        if not valid:
            assert answer.code == Code.INVALID_ARGUMENT, f"outputs {names}: {answer.code.name}"
            assert answer.fields
            return
        assert answer.code == Code.OK, f"outputs {names}: {answer.code.name} {answer.details!r}"
        status = answer.response.execution.job_status
        assert status.revision == model.revision + 1
        assert status.status == model.status
        model.change(model.status)

    def _update_step(self, execution: str, name: str, step_status: int) -> None:
        model = self.models[execution]
        step = execution_pb2.Step(name=name, status=step_status)
        answer = call(self.stub.UpdateStep, pb.UpdateStepRequest(execution_id=execution, step=step))
        if not name or step_status not in DEFINED:
            assert answer.code == Code.INVALID_ARGUMENT, f"step {step}: {answer.code.name}"
            assert answer.fields
            return
        assert answer.code == Code.OK, f"step {step}: {answer.code.name} {answer.details!r}"
        assert answer.response.revision == model.revision + 1
        model.change(model.status)

    def _append_logs(self, execution: str, count: int) -> None:
        model = self.models[execution]
        entries = [execution_pb2.LogEntry(message=f"line {i}") for i in range(count)]
        answer = call(
            self.stub.AppendLogs, pb.AppendLogsRequest(execution_id=execution, entries=entries)
        )
        where = f"{count} log lines in {_name(model.status)}"
        if count == 0:
            assert answer.code == Code.INVALID_ARGUMENT, f"{where}: {answer.code.name}"
            assert answer.fields
        elif model.status in TERMINAL:
            assert answer.code == Code.FAILED_PRECONDITION, f"{where}: {answer.code.name}"
        else:
            assert answer.code == Code.OK, f"{where}: {answer.code.name} {answer.details!r}"
            assert answer.response.last_seq == model.log_seq + count
            model.log_seq += count

    @invariant()
    def server_agrees_with_the_model(self) -> None:
        for execution_id, model in self.models.items():
            status = self.stub.GetJobStatus(
                pb.GetJobStatusRequest(execution_id=execution_id), timeout=30
            ).job_status
            where = f"{execution_id} (model: {_name(model.status)} at {model.revision})"
            assert status.revision >= model.highest_seen, f"{where}: the revision went down"
            model.highest_seen = status.revision
            if model.ended_as is not None:
                assert status.status == model.ended_as, f"{where}: left {_name(model.ended_as)}"
            assert status.status == model.status, f"{where}: server says {_name(status.status)}"
            assert status.revision == model.revision, f"{where}: server says {status.revision}"
            assert status.HasField("end_time") == (model.status in TERMINAL), where
            assert status.HasField("start_time") == model.started, where
            assert math.isclose(status.progress, model.progress) or (
                math.isnan(status.progress) and math.isnan(model.progress)
            ), f"{where}: progress {status.progress}, model {model.progress}"

    def teardown(self) -> None:
        """The event history of each ended execution: every revision once, in order."""
        for execution_id, model in self.models.items():
            if model.ended_as is None:
                continue  # its watch would stay open; the invariant covered it
            end = min(r for r, status in model.history.items() if status in TERMINAL)
            start = min(model.history)
            request = pb.WatchStatusRequest(execution_id=execution_id, after_revision=start)
            # It ends by itself, with the first terminal event.
            responses = list(self.stub.WatchStatus(request, timeout=30))
            events = [r.event for r in responses if r.HasField("event")]
            seen = [event.revision for event in events]
            for event in events:
                expected = model.history.get(event.revision)
                assert event.job_status.status == expected, (
                    f"{execution_id} revision {event.revision}: event says "
                    f"{_name(event.job_status.status)}, model {expected and _name(expected)}"
                )
            assert seen == list(range(start + 1, end + 1)), f"{execution_id}: revisions {seen}"


@pytest.mark.timeout(TIMEOUT)
def test_status_machine_against_the_server(stub: TrackingServiceStub) -> None:
    run_state_machine_as_test(
        lambda: JobStatusMachine(stub),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
