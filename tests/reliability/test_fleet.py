"""A fleet: three `tracking serve` replicas on one PostgreSQL database behind Debian's nginx,
run with deploy/nginx/nginx.conf. Everything goes through nginx only: gRPC watchers (the
client's resuming watch(), in a process of their own), SSE followers of status and logs
(reconnecting as EventSource does), writers of status and log lines, and two `tracking
run` jobs. In each of three rounds one replica is SIGKILLed and restarted; then one is
SIGTERMed (drained) and restarted. Every watcher and follower must end with every event
and line, once, in order; every acknowledged write must be stored; both jobs must end
SUCCESS with all their lines.

Short by default (make test); TRACKING_CHAOS=full (make chaos): 300 gRPC watchers, 50 SSE
followers, 20 writers.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import asyncpg
import grpc
import pytest

from tests.support.chaos import FULL, Writer, account, free_address, prepare, read_truth, watchers
from tests.support.chaos_watchers import channel_options
from tests.support.cli import start_tracking
from tests.support.databases import postgres_database
from tests.support.factories import unique
from tests.support.nginx import nginx, require_nginx
from tests.support.process import ServerProcess
from tests.support.sse_follower import Follower
from tests.support.waiting import wait_for
from tracking.client import RetryPolicy, TrackingClient
from tracking.service.store.database import MIGRATION_LOCK_ID
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import status_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


@dataclass(frozen=True)
class FleetScale:
    grpc_watchers: int
    sse_followers: int
    writers: int
    kills: int
    writes_between: int


SCALE = (
    FleetScale(grpc_watchers=300, sse_followers=50, writers=20, kills=3, writes_between=40)
    if FULL
    else FleetScale(grpc_watchers=20, sse_followers=4, writers=2, kills=3, writes_between=8)
)
EXECUTIONS = 4
DEPLOYMENT_WATCHER_EVERY = 5
# A job's command: a numbered line every 20 ms until it is told to stop.
CHILD = (
    "import os, sys, time\n"
    "stop, i = sys.argv[1], 0\n"
    "while not os.path.exists(stop):\n"
    "    print(f'line {i}', flush=True); i += 1; time.sleep(0.02)\n"
    "print(f'line {i}', flush=True)\n"
)

TIMEOUT = 3600 if FULL else 300
# The watchers and followers give up well before the test's timeout, so that a run too slow
# to finish still prints its figures; never sooner, so that a slow machine is no failure.
GIVE_UP = TIMEOUT * 0.8

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.postgres,
    pytest.mark.timeout(TIMEOUT),
]
if FULL:
    pytestmark.append(pytest.mark.slow)


@dataclass
class Replica:
    """A replica and the fixed ports it takes again when restarted."""

    database_url: str
    address: str = field(default_factory=free_address)
    http_address: str = field(default_factory=free_address)
    server: ServerProcess | None = None
    output: list[str] = field(default_factory=list)

    def start(self) -> Replica:
        # Behind nginx a draining replica is sent calls (and refuses them) until its grace
        # period ends: a short one keeps the test short.
        self.server = ServerProcess(
            self.database_url, self.address, self.http_address, TRACKING_GRACE_SECONDS="3"
        ).start()
        return self

    def kill(self) -> None:
        assert self.server is not None
        self.server.kill()
        self.output += self.server.output

    def drain(self) -> int:
        assert self.server is not None
        code = self.server.terminate(timeout=60)
        self.output += self.server.output
        return code


@contextmanager
def fleet(database_url: str, count: int = 3) -> Iterator[tuple[list[Replica], str, str]]:
    """`count` replicas behind nginx; yields them and nginx's gRPC and HTTP addresses."""
    require_nginx()
    replicas = [Replica(database_url) for _ in range(count)]
    threads = [threading.Thread(target=replica.start) for replica in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    grpc_listen, http_listen = free_address(), free_address()
    try:
        assert all(replica.server is not None for replica in replicas), "a replica did not start"
        with nginx(
            grpc_listen,
            http_listen,
            [replica.address for replica in replicas],
            [replica.http_address for replica in replicas],
        ):
            yield replicas, grpc_listen, http_listen
    finally:
        for replica in replicas:
            if replica.server is not None:
                replica.kill()


class LogWriter:
    """Appends numbered lines to the executions in turn through one channel, recording each
    line the server acknowledged; a failed append is sent again until acknowledged."""

    def __init__(self, address: str, executions: list[str]) -> None:
        self.channel = grpc.insecure_channel(address, options=channel_options(True))
        self.stub = TrackingServiceStub(self.channel)
        self.executions = executions
        self.acknowledged: list[tuple[str, str]] = []
        self.failed: Counter[str] = Counter()
        self.failure_details: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-logs", daemon=True)

    def start(self) -> LogWriter:
        self._thread.start()
        return self

    def _run(self) -> None:
        step = 0
        while not self._stop.is_set():
            execution_id = self.executions[step % len(self.executions)]
            message = f"log {step}"
            request = pb.AppendLogsRequest(
                execution_id=execution_id, entries=[epb.LogEntry(message=message)]
            )
            while not self._stop.is_set():
                try:
                    self.stub.AppendLogs(request, timeout=30)
                except grpc.RpcError as error:
                    self.failed[error.code().name] += 1
                    self.failure_details[f"{error.code().name}: {error.details()}"] += 1
                    self._stop.wait(0.05)
                    continue
                self.acknowledged.append((execution_id, message))
                break
            step += 1
            self._stop.wait(0.01)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        self.channel.close()


@dataclass
class Job:
    """`tracking run` of CHILD through nginx; its output goes to a file."""

    address: str
    directory: Path
    execution_id: str = field(default_factory=lambda: unique("fleet-run"))
    process: subprocess.Popen[str] | None = None

    @property
    def stop_file(self) -> Path:
        return self.directory / f"{self.execution_id}.stop"

    @property
    def output(self) -> Path:
        return self.directory / f"{self.execution_id}.out"

    def start(self) -> Job:
        self.process = start_tracking(
            self.address,
            "run", "--pipeline", "fleet", "--id", self.execution_id,
            "--", sys.executable, "-c", CHILD, str(self.stop_file),
            stdout=self.output.open("w"),
        )  # fmt: skip
        return self

    def finish(self) -> tuple[int, str]:
        self.stop_file.touch()
        assert self.process is not None
        _, err = self.process.communicate(timeout=300)
        return self.process.returncode, err

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def printed(self) -> list[str]:
        return self.output.read_text().splitlines()


def sse_followers(http_listen: str, executions: list[str]) -> list[tuple[str, Follower]]:
    """Half follow an execution's status, half its log lines, over the executions in turn."""
    followers = []
    for n in range(SCALE.sse_followers):
        execution_id = executions[n % len(executions)]
        if n % 2 == 0:
            url = f"http://{http_listen}/events/WatchStatus?execution_id={execution_id}"
        else:
            url = f"http://{http_listen}/events/StreamLogs?execution_id={execution_id}&follow=true"
        followers.append((execution_id, Follower(url, give_up_seconds=GIVE_UP)))
    return followers


def stored_lines(address: str, execution_id: str) -> list[tuple[int, str]]:
    """Every stored line, read a page at a time (one read returns at most max_log_read)."""
    lines: list[tuple[int, str]] = []
    with TrackingClient(address) as client:
        while True:
            after = lines[-1][0] if lines else 0
            page = client.get_execution_logs(execution_id, after_seq=after)
            if not page:
                return lines
            lines += [(e.seq, e.message) for e in page]


def followed_problems(
    followers: list[tuple[str, Follower]], truth: dict[str, list[tuple[int, str]]], address: str
) -> Counter[str]:
    """What each SSE follower got that differs from what is stored: counted by kind."""
    problems: Counter[str] = Counter()
    lines = {execution_id: stored_lines(address, execution_id) for execution_id in truth}
    for execution_id, follower in followers:
        problems["errors"] += len(follower.errors)
        problems["not ended"] += not follower.ended
        if "WatchStatus" in follower.url:
            got = [int(event_id) for event_id, _ in follower.received]
            expected = [revision for revision, _ in truth[execution_id] if revision >= got[0]]
            phases = [data["event"]["jobStatus"].get("phase", "") for _, data in follower.received]  # type: ignore[index]
            wanted = [phase for revision, phase in truth[execution_id] if revision >= got[0]]
            problems["altered"] += phases[1:] != wanted[1:]
        else:
            got = [int(e["seq"]) for _, data in follower.received for e in data["entries"]]  # type: ignore[index]
            messages = [e["message"] for _, data in follower.received for e in data["entries"]]  # type: ignore[index]
            expected = [seq for seq, _ in lines[execution_id]]
            problems["altered"] += messages != [message for _, message in lines[execution_id]]
        problems["duplicates"] += len(got) - len(set(got))
        problems["out of order"] += sum(1 for a, b in pairwise(got) if b < a)
        problems["gaps"] += len(set(expected) - set(got))
        problems["unknown"] += len(set(got) - set(expected))
    return +problems


def test_a_fleet_behind_nginx_loses_nothing_when_replicas_die(tmp_path: Path) -> None:
    began = time.monotonic()
    with postgres_database() as url, fleet(url) as (replicas, grpc_listen, http_listen):
        deployment, executions = prepare(grpc_listen, EXECUTIONS)
        with ExitStack() as stack:
            process = stack.enter_context(
                watchers(
                    address=grpc_listen,
                    executions=executions,
                    deployment=deployment,
                    count=SCALE.grpc_watchers,
                    every=DEPLOYMENT_WATCHER_EVERY,
                    guard=GIVE_UP,
                )
            )
            followers = sse_followers(http_listen, executions)
            threads = [follower.start() for _, follower in followers]
            # Log followers replay from the first line, whenever they connect; a status
            # follower's first event is its snapshot: wait for those.
            status_followers = [f for _, f in followers if "WatchStatus" in f.url]
            wait_for(lambda: all(f.received for f in status_followers), "the SSE followers")
            jobs = [Job(grpc_listen, tmp_path).start() for _ in range(2)]
            for job in jobs:
                stack.callback(job.kill)
            writers = [Writer(grpc_listen, executions).start() for _ in range(SCALE.writers)]
            log_writer = LogWriter(grpc_listen, executions).start()

            def written(more: int) -> None:
                writers[0].wait_acknowledged(more)

            # Three rounds: a replica SIGKILLed, then started again on its ports.
            for victim in replicas[: SCALE.kills]:
                written(SCALE.writes_between)
                victim.kill()
                written(SCALE.writes_between)
                victim.start()
            # A drain: SIGTERM, the replica ends its streams and refuses new calls.
            written(SCALE.writes_between)
            drained = replicas[0].drain()
            written(SCALE.writes_between)
            replicas[0].start()
            written(SCALE.writes_between)

            log_writer.stop()
            for writer in writers:
                writer.stop()
            writers[0].finish()
            jobs_ended = [job.finish() for job in jobs]
            report = process.result()
            for thread in threads:
                thread.join(300)
        truth = read_truth(grpc_listen, executions)
        acknowledged = [write for writer in writers for write in writer.acknowledged]
        figures = account(truth, acknowledged, report)
        figures.failed_writes = dict(sum((Counter(w.failed) for w in writers), Counter()))
        sse = followed_problems(followers, truth, grpc_listen)
        stored = {
            (execution_id, message)
            for execution_id in executions
            for _, message in stored_lines(grpc_listen, execution_id)
        }
        lines_lost = sum(1 for line in log_writer.acknowledged if line not in stored)
        job_logs = [stored_lines(grpc_listen, job.execution_id) for job in jobs]
        with TrackingClient(grpc_listen) as client:
            job_status = [client.get_job_status(job.execution_id).status for job in jobs]
        all_output = [line for replica in replicas for line in replica.output]
        unexpected = [line for line in all_output if "unexpected error" in line]
        failure_details = sum((w.failure_details for w in writers), log_writer.failure_details)
    print(
        "\n"
        + figures.line(
            f"fleet through nginx, sigkill x{SCALE.kills} + drain",
            sse_followers=len(followers),
            sse_problems=dict(sse) or 0,
            sse_reconnects=sum(f.reconnects for _, f in followers),
            log_lines=len(log_writer.acknowledged),
            lines_lost=lines_lost,
            log_failed=dict(log_writer.failed) or 0,
            failure_details=dict(failure_details) or 0,
            job_lines=[len(lines) for lines in job_logs],
            writers=len(writers),
            unexpected_errors=len(unexpected),
            seconds=f"{time.monotonic() - began:.1f}",
        ),
        flush=True,
    )
    assert drained == 0
    # First: a replica's own error explains what its callers then saw.
    assert unexpected == [], "a replica logged unexpected errors:\n" + "".join(unexpected[:3])
    assert figures.errors == []
    assert figures.clean, figures
    assert figures.watchers == SCALE.grpc_watchers
    assert figures.received_min > 0
    assert sse == Counter(), [f.errors for _, f in followers]
    assert lines_lost == 0
    for (code, err), job, lines, status in zip(jobs_ended, jobs, job_logs, job_status, strict=True):
        assert code == 0, err
        printed = job.printed()
        assert [message for _, message in lines] == printed, err
        assert [seq for seq, _ in lines] == list(range(1, len(printed) + 1))
        assert status == status_pb2.RUNNING_STATUS_SUCCESS


async def _hold_migration_lock(
    database_url: str, held: threading.Event, release: asyncio.Event
) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        held.set()
        await release.wait()
    finally:
        await connection.close()


async def _waiting_for_a_lock(database_url: str) -> bool:
    connection = await asyncpg.connect(database_url)
    try:
        waiting: int = await connection.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        return waiting > 0
    finally:
        await connection.close()


def test_a_replica_slow_to_start_gets_no_call_until_it_serves() -> None:
    # Replica B waits for the migration lock the test holds, as a replica slow to migrate
    # its database would: it does not listen yet, so nginx sends every call to A, and none
    # fails (the client here does not retry).
    once = RetryPolicy(max_attempts=1)
    with postgres_database() as url, fleet(url, count=1) as (replicas, _, _):
        a, b = replicas[0], Replica(url)
        grpc_listen, http_listen = free_address(), free_address()
        loop = asyncio.new_event_loop()
        held, release = threading.Event(), asyncio.Event()
        holder = threading.Thread(
            target=loop.run_until_complete, args=(_hold_migration_lock(url, held, release),)
        )
        starting = threading.Thread(target=b.start)
        with nginx(
            grpc_listen, http_listen, [a.address, b.address], [a.http_address, b.http_address]
        ):
            try:
                holder.start()
                wait_for(held.is_set, "the test to hold the migration lock")
                starting.start()
                wait_for(lambda: asyncio.run(_waiting_for_a_lock(url)), "B to wait for it")
                with TrackingClient(grpc_listen, retry=once) as client:
                    answered = [
                        client.create_execution(pipeline_name="slow").execution_id
                        for _ in range(20)
                    ]
                    assert b.server is None  # B was still starting throughout
            finally:
                loop.call_soon_threadsafe(release.set)
                holder.join(30)
                starting.join(120)
            assert b.server is not None
            try:
                # B serves now: with A gone, nginx sends the calls to B.
                a.kill()
                with TrackingClient(grpc_listen, retry=once) as client:
                    seen = [client.get_execution(e).execution_id for e in answered]
            finally:
                b.kill()
    assert len(answered) == 20
    assert seen == answered
