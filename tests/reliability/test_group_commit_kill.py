"""SIGKILL in the middle of group commits: every caller's answer matches what is stored.

Writer threads, each on its own connection, send progress changes, log batches and
creations (with a request_id) to a few shared executions while `tracking serve` is killed
and restarted on the same port. Afterwards, what the database holds is read back:

- an acknowledged write is stored, as acknowledged (its revision, its log seqs);
- a write answered with an error (UNAVAILABLE, the connection lost) is stored at most once,
  whole (a log batch all or nothing), or not at all;
- a creation retried with its request_id until acknowledged is stored exactly once;
- revisions and log seqs have no gap.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import grpc
import pytest

from tests.support import factories
from tests.support.chaos import SCALE, free_address, prepare, read_truth
from tests.support.chaos_watchers import channel_options
from tests.support.process import ServerProcess
from tests.support.waiting import wait_for
from tracking.v1 import execution_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]

THREADS = 12
EXECUTIONS = 3
LINES_PER_BATCH = 3


@dataclass
class Answers:
    """What the callers were told."""

    progress: list[tuple[str, int, str]] = field(default_factory=list)  # acknowledged
    progress_unknown: set[str] = field(default_factory=set)  # phases of failed calls
    logs: list[tuple[str, int, list[str]]] = field(default_factory=list)  # (id, last seq, lines)
    logs_unknown: list[tuple[str, list[str]]] = field(default_factory=list)
    created: dict[str, str] = field(default_factory=dict)  # request_id -> execution_id
    failures: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        return len(self.progress) + len(self.logs) + len(self.created)


def _writer(
    address: str,
    number: int,
    executions: list[str],
    deployment: str,
    answers: Answers,
    stop: threading.Event,
) -> None:
    channel = grpc.insecure_channel(address, options=channel_options(False))
    stub = TrackingServiceStub(channel)
    step = 0
    try:
        while not stop.is_set():
            execution_id = executions[(number + step) % len(executions)]
            tag = f"t{number}-{step}"
            kind = step % 5
            try:
                if kind < 3:
                    request = pb.UpdateJobStatusRequest(
                        execution_id=execution_id,
                        progress=pb.ProgressAction(progress=0.5, phase=tag),
                    )
                    try:
                        response = stub.UpdateJobStatus(request, timeout=10)
                    except grpc.RpcError:
                        with answers.lock:
                            answers.progress_unknown.add(tag)
                        raise
                    with answers.lock:
                        answers.progress.append((execution_id, response.job_status.revision, tag))
                elif kind == 3:
                    lines = [f"{tag}-{k}" for k in range(LINES_PER_BATCH)]
                    entries = [execution_pb2.LogEntry(message=line) for line in lines]
                    try:
                        logs = stub.AppendLogs(
                            pb.AppendLogsRequest(execution_id=execution_id, entries=entries),
                            timeout=10,
                        )
                    except grpc.RpcError:
                        with answers.lock:
                            answers.logs_unknown.append((execution_id, lines))
                        raise
                    with answers.lock:
                        answers.logs.append((execution_id, logs.last_seq, lines))
                else:
                    _create(stub, deployment, tag, answers, stop)
            except grpc.RpcError as error:
                with answers.lock:
                    answers.failures[error.code().name] += 1
                stop.wait(0.02)
            step += 1
    finally:
        channel.close()


def _create(
    stub: TrackingServiceStub, deployment: str, tag: str, answers: Answers, stop: threading.Event
) -> None:
    """A creation sent again with the same request_id until it is acknowledged."""
    request = pb.CreateExecutionRequest(
        execution=execution_pb2.Execution(deployment_name=deployment, labels={"op": tag}),
        request_id=f"req-{tag}",
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            execution = stub.CreateExecution(request, timeout=10).execution
        except grpc.RpcError as error:
            with answers.lock:
                answers.failures[error.code().name] += 1
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
            continue
        with answers.lock:
            answers.created[tag] = execution.execution_id
        return


def _wait_for_more(answers: Answers, more: int) -> None:
    target = answers.count() + more
    wait_for(lambda: answers.count() >= target, f"{more} more acknowledged writes")


def _stored_lines(stub: TrackingServiceStub, execution_id: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    while True:
        page = stub.GetExecutionLogs(
            pb.GetExecutionLogsRequest(
                execution_id=execution_id, after_seq=lines[-1][0] if lines else 0
            ),
            timeout=30,
        )
        lines += [(entry.seq, entry.message) for entry in page.entries]
        if not page.truncated:
            return lines


def _stored_creations(stub: TrackingServiceStub, deployment: str) -> Counter[str]:
    """How many executions of the deployment carry each op label."""
    found: Counter[str] = Counter()
    token = ""
    while True:
        page = stub.ListExecutions(
            pb.ListExecutionsRequest(
                filter=f'deployment_name = "{deployment}"', page_size=500, page_token=token
            ),
            timeout=30,
        )
        for execution in page.executions:
            if "op" in execution.labels:
                found[execution.labels["op"]] += 1
        token = page.next_page_token
        if not token:
            return found


def test_sigkill_during_group_commits_keeps_every_answer_true(
    backend: str, fresh_database: str
) -> None:
    address = free_address()
    server = ServerProcess(fresh_database, address).start()
    started = [server]
    answers = Answers()
    stop = threading.Event()
    try:
        deployment, executions = prepare(address, EXECUTIONS)
        threads = [
            threading.Thread(
                target=_writer,
                args=(address, number, executions, deployment, answers, stop),
                daemon=True,
            )
            for number in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for _ in range(SCALE.kills):
            _wait_for_more(answers, 200)
            server.kill()
            server = ServerProcess(fresh_database, address).start()
            started.append(server)
        _wait_for_more(answers, 200)
        stop.set()
        for thread in threads:
            thread.join(150)
        stuck = sum(thread.is_alive() for thread in threads)
        assert stuck == 0, f"{stuck} writers did not stop: {dict(answers.failures)}"
        with grpc.insecure_channel(address) as channel:
            stub = TrackingServiceStub(channel)
            for execution_id in executions:  # ended, so that a watch reads to the end
                factories.stop(stub, execution_id)
        truth = read_truth(address, executions)  # also: revisions 2..N, no gap
        with grpc.insecure_channel(address) as channel:
            stub = TrackingServiceStub(channel)
            lines = {execution_id: _stored_lines(stub, execution_id) for execution_id in executions}
            creations = _stored_creations(stub, deployment)
    finally:
        stop.set()
        server.kill()

    # Progress: acknowledged means stored at the revision the caller was told; a failed
    # call is stored once or not at all; nothing else is stored.
    # (The last event of each execution is the stop above, which keeps the last phase.)
    stored = {
        (e, revision): phase for e, events in truth.items() for revision, phase in events[:-1]
    }
    lost = [(e, r, p) for e, r, p in answers.progress if stored.get((e, r)) != p]
    phases = Counter(phase for phase in stored.values() if phase.startswith("t"))
    acknowledged_phases = {p for _, _, p in answers.progress}
    twice = [p for p, n in phases.items() if n > 1]
    unexplained = [p for p in phases if p not in acknowledged_phases | answers.progress_unknown]
    failed_stored = sum(1 for p in answers.progress_unknown if p in phases)

    # Log lines: seqs 1..N; an acknowledged batch at the seqs it was told; a failed one
    # whole or not at all; no line twice.
    logs_lost = 0
    partial = 0
    for execution_id, seq_lines in lines.items():
        assert [seq for seq, _ in seq_lines] == list(range(1, len(seq_lines) + 1))
        by_message = Counter(message for _, message in seq_lines)
        assert all(n == 1 for n in by_message.values())
        at = dict(seq_lines)
        for e, last, batch in answers.logs:
            if e == execution_id:
                first = last - len(batch) + 1
                logs_lost += [at.get(seq) for seq in range(first, last + 1)] != batch
        for e, batch in answers.logs_unknown:
            if e == execution_id:
                partial += len({line in by_message for line in batch}) != 1

    # Creations retried with their request_id: each stored exactly once.
    not_once = {tag: n for tag, n in creations.items() if n != 1}
    missing = [tag for tag in answers.created if creations.get(tag) != 1]

    print(
        f"\nCHAOS group commit sigkill x{SCALE.kills} {backend}:"
        f" acknowledged progress={len(answers.progress)} logs={len(answers.logs)}"
        f" creations={len(answers.created)} failed progress={len(answers.progress_unknown)}"
        f" (stored {failed_stored}) failed log batches={len(answers.logs_unknown)}"
        f" failures={dict(answers.failures)} acknowledged lost={len(lost) + logs_lost}"
        f" stored twice={len(twice)} unexplained={len(unexplained)} partial batches={partial}"
        f" creations not once={len(not_once) + len(missing)}",
        flush=True,
    )
    assert lost == []
    assert logs_lost == 0
    assert twice == []
    assert unexplained == []
    assert partial == 0
    assert not_once == {}
    assert missing == []
    assert sum(answers.failures.values()) > 0  # the kills did cut calls short
    unexpected = [line for each in started for line in each.output if "unexpected error" in line]
    assert unexpected == [], "the server logged unexpected errors:\n" + "".join(unexpected[:3])
