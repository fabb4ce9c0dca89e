"""What the chaos tests share: their scale, a steady writer, watcher processes, the accounting.

TRACKING_CHAOS=full runs them at the size `make chaos` promises (500 watchers, 5 kills,
10,000 stream cycles, a PostgreSQL restart); otherwise a short version runs in make test.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import grpc

from tests.support.chaos_watchers import channel_options, digest_line
from tests.support.factories import create_deployment, create_execution, start
from tests.support.waiting import HANG_GUARD, wait_for
from tracking.v1 import status_pb2 as spb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

ROOT = Path(__file__).resolve().parents[2]
FULL = os.environ.get("TRACKING_CHAOS", "").lower() == "full"


@dataclass(frozen=True)
class Scale:
    watchers: int
    kills: int
    writes_between_kills: int
    cycles: int
    vanish_rounds: int
    restart_postgres: bool


SCALE = (
    Scale(
        watchers=500,
        kills=5,
        writes_between_kills=150,
        cycles=10_000,
        vanish_rounds=10,
        restart_postgres=True,
    )
    if FULL
    else Scale(
        watchers=50,
        kills=2,
        writes_between_kills=25,
        cycles=500,
        vanish_rounds=2,
        restart_postgres=False,
    )
)


def free_address() -> str:
    """127.0.0.1 and a port nobody listens on, so a restarted server can take it again."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None, status
    return int(match.group(1))


def scrape(metrics_address: str, name: str, default: float | None = None) -> float:
    """One value of the server's Prometheus endpoint, named as it is written there (with
    its labels, if any); `default` when it is not there yet (a counter before its first
    count), else it must be."""
    with urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    if match is None and default is not None:
        return default
    assert match is not None, f"{name} not in /metrics"
    return float(match.group(1))


def prepare(address: str, executions: int) -> tuple[str, list[str]]:
    """A deployment and its running executions."""
    with grpc.insecure_channel(address) as channel:
        stub = TrackingServiceStub(channel)
        deployment = create_deployment(stub).name
        ids = [
            create_execution(stub, deployment_name=deployment).execution_id
            for _ in range(executions)
        ]
        for execution_id in ids:
            start(stub, execution_id)
    return deployment, ids


class Writer:
    """A steady writer of progress changes that records every acknowledged write.

    A write is acknowledged when the server answered it with the execution's new revision.
    A write that fails (UNAVAILABLE while the server is down, ...) is not acknowledged;
    the same change is sent again until it is.
    """

    def __init__(self, address: str, executions: list[str], phase_size: int = 0) -> None:
        self.channel = grpc.insecure_channel(address, options=channel_options(True))
        self.stub = TrackingServiceStub(self.channel)
        self.executions = executions
        self.padding = "x" * phase_size
        self.acknowledged: list[tuple[str, int, str]] = []
        self.failed: Counter[str] = Counter()
        # What the server (or a proxy) said, counted: "CODE: details".
        self.failure_details: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-writer", daemon=True)

    def start(self) -> Writer:
        self._thread.start()
        return self

    def _run(self) -> None:
        step = 0
        while not self._stop.is_set():
            execution_id = self.executions[step % len(self.executions)]
            phase = f"w{step}{self.padding}"
            request = pb.UpdateJobStatusRequest(
                execution_id=execution_id,
                progress=pb.ProgressAction(progress=(step % 1000) / 1000, phase=phase),
            )
            while not self._stop.is_set():
                try:
                    response = self.stub.UpdateJobStatus(request, timeout=30)
                except grpc.RpcError as error:
                    self.failed[error.code().name] += 1
                    self.failure_details[f"{error.code().name}: {error.details()}"] += 1
                    self._stop.wait(0.05)
                    continue
                self.acknowledged.append((execution_id, response.job_status.revision, phase))
                break
            step += 1
            self._stop.wait(0.005)

    def wait_acknowledged(self, more: int) -> None:
        target = len(self.acknowledged) + more
        wait_for(lambda: len(self.acknowledged) >= target, f"{more} acknowledged writes")

    def stop(self) -> None:
        """Stop writing (another writer may then end the executions)."""
        self._stop.set()
        self._thread.join(60)

    def finish(self) -> None:
        """Stop writing, then end every execution (SUCCESS), retrying until it has ended."""
        self.stop()
        for execution_id in self.executions:
            request = pb.UpdateJobStatusRequest(
                execution_id=execution_id,
                stop=pb.StopAction(cause=spb.RUNNING_STATUS_SUCCESS),
            )
            while True:
                try:
                    self.stub.UpdateJobStatus(request, timeout=30)
                    break
                except grpc.RpcError as error:
                    self.failed[error.code().name] += 1
                    self.failure_details[f"{error.code().name}: {error.details()}"] += 1
                    current = self._status(execution_id)
                    if current == spb.RUNNING_STATUS_SUCCESS:
                        break  # the failed call had committed
                    time.sleep(0.1)
        self.channel.close()

    def _status(self, execution_id: str) -> int | None:
        try:
            execution = self.stub.GetExecution(
                pb.GetExecutionRequest(execution_id=execution_id), timeout=30
            ).execution
        except grpc.RpcError:
            return None
        return int(execution.job_status.status)


class WatcherProcess:
    """tests.support.chaos_watchers in a process of its own."""

    def __init__(self, **options: Any) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.chaos_watchers", json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def wait_ready(self) -> WatcherProcess:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line == "ready", f"watchers did not start (exit {self.process.poll()})"
        return self

    def go(self) -> None:
        """Let paused watchers read again."""
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> dict[str, Any]:
        output, _ = self.process.communicate(timeout=HANG_GUARD)
        lines = output.strip().splitlines()
        assert lines, f"watchers printed nothing (exit {self.process.returncode})"
        report: dict[str, Any] = json.loads(lines[-1])
        return report

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


@contextmanager
def watchers(**options: Any) -> Iterator[WatcherProcess]:
    process = WatcherProcess(**options)
    try:
        yield process.wait_ready()
    finally:
        process.kill()


Truth = dict[str, list[tuple[int, str]]]


def read_truth(address: str, executions: list[str]) -> Truth:
    """Every event each execution has in the database, read with a fresh watch from the start."""
    truth: Truth = {}
    with grpc.insecure_channel(address) as channel:
        stub = TrackingServiceStub(channel)
        for execution_id in executions:
            truth[execution_id] = [
                (r.event.revision, r.event.job_status.phase)
                for r in stub.WatchStatus(
                    pb.WatchStatusRequest(execution_id=execution_id, after_revision=1),
                    timeout=120,
                )
                if r.HasField("event")
            ]
            stored = stub.GetExecution(
                pb.GetExecutionRequest(execution_id=execution_id), timeout=30
            ).execution
            assert [revision for revision, _ in truth[execution_id]] == list(
                range(2, stored.job_status.revision + 1)
            )
    return truth


@dataclass
class Figures:
    """What a chaos run counts; every count but the first few must be zero."""

    written: int = 0
    acknowledged: int = 0
    failed_writes: dict[str, int] = field(default_factory=dict)
    watchers: int = 0
    received_min: int = 0
    received_max: int = 0
    gaps: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    unknown: int = 0
    altered: int = 0
    server_repeats: int = 0
    acknowledged_lost: int = 0
    errors: list[str] = field(default_factory=list)
    reconnects: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (
            self.gaps
            or self.duplicates
            or self.out_of_order
            or self.unknown
            or self.altered
            or self.server_repeats
            or self.acknowledged_lost
            or self.errors
        )

    def line(self, name: str, **extra: Any) -> str:
        failed = ",".join(f"{k}={v}" for k, v in sorted(self.failed_writes.items())) or "0"
        reconnects = ",".join(f"{k}={v}" for k, v in sorted(self.reconnects.items())) or "0"
        extras = "".join(f" {key}={value}" for key, value in extra.items())
        return (
            f"CHAOS {name}: events written={self.written} acknowledged={self.acknowledged}"
            f" failed writes={failed} watchers={self.watchers}"
            f" received per watcher min={self.received_min} max={self.received_max}"
            f" gaps={self.gaps} duplicates={self.duplicates} out-of-order={self.out_of_order}"
            f" unknown={self.unknown} altered={self.altered}"
            f" server repeats={self.server_repeats}"
            f" acknowledged lost={self.acknowledged_lost}"
            f" reconnects={reconnects} errors={len(self.errors)}{extras}"
        )


def _expand(runs: list[list[int]]) -> list[int]:
    return [revision for first, last in runs for revision in range(first, last + 1)]


def account(
    truth: Truth, acknowledged: list[tuple[str, int, str]], *reports: dict[str, Any]
) -> Figures:
    figures = Figures()
    figures.written = sum(len(events) for events in truth.values())
    figures.acknowledged = len(acknowledged)
    stored = {(e, revision): phase for e, events in truth.items() for revision, phase in events}
    figures.acknowledged_lost = sum(
        1 for e, revision, phase in acknowledged if stored.get((e, revision)) != phase
    )
    totals: list[int] = []
    for report in reports:
        figures.server_repeats += report["repeats"]
        figures.errors += report["errors"]
        for code, count in report["reconnects"].items():
            figures.reconnects[code] = figures.reconnects.get(code, 0) + count
        for watcher in report["watchers"]:
            total = 0
            scope = list(truth) if watcher["scope"] == "deployment" else [watcher["scope"]]
            for execution_id in scope:
                after = watcher["snapshots"].get(execution_id)
                if after is None:
                    figures.errors.append(f"a watcher had no snapshot of {execution_id}")
                    continue
                expected_events = [(r, p) for r, p in truth[execution_id] if r > after]
                expected = [r for r, _ in expected_events]
                got = _expand(watcher["runs"].get(execution_id, []))
                total += len(got)
                figures.duplicates += len(got) - len(set(got))
                figures.out_of_order += sum(1 for a, b in pairwise(got) if b < a)
                figures.gaps += len(set(expected) - set(got))
                figures.unknown += len(set(got) - set(expected))
                if got == expected:
                    digest = hashlib.sha256()
                    for revision, phase in expected_events:
                        digest.update(digest_line(revision, phase))
                    if expected and watcher["digests"].get(execution_id) != digest.hexdigest():
                        figures.altered += 1
            totals.append(total)
    figures.watchers = len(totals)
    figures.received_min = min(totals, default=0)
    figures.received_max = max(totals, default=0)
    return figures
