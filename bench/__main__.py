"""`make bench`: the real server against a no-op baseline, in the same run, on this machine.

    python -m bench [--postgres URL] [--quick]

Prints a table and writes bench/results.json. Speeds are ratios to a baseline
measured in the same run: the no-op echo server for RPCs and streams, raw
sqlite3 executemany for log ingest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from bench.dashboard import dashboard_latency, free_http_address
from bench.harness import (
    ROOT,
    Process,
    echo_server,
    h2load,
    percentile,
    settle,
    tracking_server,
)
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

RESULTS = ROOT / "bench" / "results.json"


def seed(stub: TrackingServiceStub) -> str:
    """100+ executions to list, and one running execution to read and update."""
    for _ in range(110):
        stub.CreateExecution(
            pb.CreateExecutionRequest(
                execution=epb.Execution(job_name="seed", labels={"team": "bench"})
            )
        )
    execution_id = stub.CreateExecution(pb.CreateExecutionRequest()).execution.execution_id
    stub.UpdateJobStatus(
        pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
    )
    return str(execution_id)


def checked(stub: TrackingServiceStub, method: str, request: Any) -> None:
    """h2load sees HTTP status only: make sure the request itself succeeds."""
    getattr(stub, method)(request, timeout=10)


def unary(target: Process, baseline: Process, work: Path, quick: bool) -> dict[str, Any]:
    n = 4000 if quick else 20000
    results: dict[str, Any] = {}
    with grpc.insecure_channel(target.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = seed(stub)
        cases = {
            "U1 GetJobStatus": (
                "GetJobStatus",
                pb.GetJobStatusRequest(execution_id=execution_id),
                16,
            ),
            "U2 ListExecutions (page of 100)": (
                "ListExecutions",
                pb.ListExecutionsRequest(page_size=100),
                4,
            ),
            "W1 UpdateJobStatus (progress)": (
                "UpdateJobStatus",
                pb.UpdateJobStatusRequest(
                    execution_id=execution_id, progress=pb.ProgressAction(progress=0.5, phase="p")
                ),
                8,
            ),
        }
        for name, (method, request, streams) in cases.items():
            checked(stub, method, request)
            count = n // 4 if method == "ListExecutions" else n
            real = h2load(
                target.address,
                method,
                request,
                requests=count,
                clients=4,
                streams=streams,
                workdir=work,
            )
            echo = h2load(
                baseline.address,
                method,
                request,
                requests=count,
                clients=4,
                streams=streams,
                workdir=work,
            )
            results[name] = {
                "tracking_per_second": real.requests_per_second,
                "echo_per_second": echo.requests_per_second,
                "ratio": real.requests_per_second / echo.requests_per_second,
                "failed": real.failed,
            }
    return results


def raw_sqlite_lines_per_second(work: Path, batches: int, batch: int) -> float:
    """The ceiling for log ingest: executemany into the same table, one transaction a batch."""
    connection = sqlite3.connect(work / "raw.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE log_lines (execution_id VARCHAR NOT NULL, seq BIGINT NOT NULL, timestamp DATETIME NOT NULL, "
        "stream VARCHAR(8) NOT NULL, message VARCHAR NOT NULL, step_name VARCHAR NOT NULL, PRIMARY KEY (execution_id, seq))"
    )
    connection.execute("CREATE INDEX ix_ts ON log_lines (execution_id, timestamp)")
    started = time.perf_counter()
    seq = 0
    for _ in range(batches):
        rows = []
        for _ in range(batch):
            seq += 1
            rows.append(("raw", seq, "2026-01-01 00:00:00.000000", "STDOUT", "x" * 80, ""))
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("INSERT INTO log_lines VALUES (?, ?, ?, ?, ?, ?)", rows)
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return batches * batch / elapsed


def log_ingest(target: Process, work: Path, quick: bool) -> dict[str, Any]:
    batch = 500
    requests = 100 if quick else 400
    with grpc.insecure_channel(target.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = stub.CreateExecution(pb.CreateExecutionRequest()).execution.execution_id
        stub.UpdateJobStatus(
            pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
        )
        request = pb.AppendLogsRequest(
            execution_id=execution_id,
            entries=[epb.LogEntry(message="x" * 80) for _ in range(batch)],
        )
        checked(stub, "AppendLogs", request)
    result = h2load(
        target.address, "AppendLogs", request, requests=requests, clients=4, streams=1, workdir=work
    )
    lines = result.requests_per_second * batch
    raw = raw_sqlite_lines_per_second(work, requests, batch)
    return {
        "L1 AppendLogs (batches of 500)": {
            "lines_per_second": lines,
            "raw_sqlite_lines_per_second": raw,
            "ratio": lines / raw,
            "failed": result.failed,
        }
    }


def start_watchers(address: str, execution_id: str, count: int) -> list[subprocess.Popen[str]]:
    processes = max(1, min(4, count // 2500))
    per_process = count // processes
    popens = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.watchers",
                "watch",
                address,
                execution_id,
                str(per_process),
                str(max(1, per_process // 100)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(processes)
    ]
    for popen in popens:
        assert popen.stdout is not None
        if popen.stdout.readline().strip() != "ready":
            raise RuntimeError("watchers did not start")
    return popens


def fan_out_once(process: Process, count: int, changes: int) -> dict[str, float]:
    """Time from sending a change until the last of `count` watchers has it."""
    with grpc.insecure_channel(process.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = stub.CreateExecution(pb.CreateExecutionRequest()).execution.execution_id
        stub.UpdateJobStatus(
            pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
        )
        popens = start_watchers(process.address, execution_id, count)
        sent: dict[int, float] = {}
        for step in range(changes):
            before = time.time()
            response = stub.UpdateJobStatus(
                pb.UpdateJobStatusRequest(
                    execution_id=execution_id, progress=pb.ProgressAction(progress=step / changes)
                )
            )
            sent[response.job_status.revision] = before
            time.sleep(max(0.3, count / 10000))
        settle(1.0)
    last: dict[int, float] = {}
    received: dict[int, int] = {}
    for popen in popens:
        output, _ = popen.communicate("", timeout=120)
        for revision, (n, latest) in json.loads(output.strip().splitlines()[-1]).items():
            received[int(revision)] = received.get(int(revision), 0) + n
            last[int(revision)] = max(last.get(int(revision), 0.0), latest)
    delays = [(last[r] - sent[r]) * 1000 for r in sent if r in last]
    complete = sum(1 for r in sent if received.get(r, 0) == (count // len(popens)) * len(popens))
    return {
        "p50_ms": percentile(delays, 50),
        "p99_ms": percentile(delays, 99),
        "changes_complete": complete,
        "changes": len(sent),
    }


def fan_out(target: Process, baseline: Process, quick: bool) -> dict[str, Any]:
    results = {}
    for count in (1000,) if quick else (1000, 10000):
        changes = 10 if quick else 30
        real = fan_out_once(target, count, changes)
        echo = fan_out_once(baseline, count, changes)
        results[f"F1 fan-out to {count} watchers"] = {
            **{f"tracking_{k}": v for k, v in real.items()},
            "echo_p99_ms": echo["p99_ms"],
            "ratio_p99": real["p99_ms"] / max(echo["p99_ms"], 1e-9),
        }
    return results


def memory_per_watcher(target: Process, quick: bool) -> dict[str, Any]:
    count = 2000 if quick else 10000
    with grpc.insecure_channel(target.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = stub.CreateExecution(pb.CreateExecutionRequest()).execution.execution_id
        settle(1.0)
        before = target.rss_kb()
        popens = start_watchers(target.address, execution_id, count)
        settle(2.0)
        after = target.rss_kb()
        for popen in popens:
            popen.communicate("", timeout=120)
    return {
        "F2 memory per idle watcher": {
            "kb_per_watcher": (after - before) / count,
            "watchers": count,
            "rss_before_kb": before,
            "rss_after_kb": after,
        }
    }


def log_follow(process: Process, quick: bool) -> dict[str, float]:
    """Latency from AppendLogs to a follower, with lines written at 10,000 a second."""
    seconds = 2 if quick else 5
    with grpc.insecure_channel(process.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = stub.CreateExecution(pb.CreateExecutionRequest()).execution.execution_id
        stub.UpdateJobStatus(
            pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
        )
        stub.AppendLogs(
            pb.AppendLogsRequest(execution_id=execution_id, entries=[epb.LogEntry(message="start")])
        )
        follower = subprocess.Popen(
            [sys.executable, "-m", "bench.watchers", "follow", process.address, execution_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert follower.stdout is not None
        follower.stdout.readline()
        sent: dict[int, float] = {}
        batch = [epb.LogEntry(message="y" * 80) for _ in range(100)]
        started = time.perf_counter()
        for step in range(seconds * 100):
            before = time.time()
            last = stub.AppendLogs(
                pb.AppendLogsRequest(execution_id=execution_id, entries=batch)
            ).last_seq
            for seq in range(last - 99, last + 1):
                sent[seq] = before
            pause = started + (step + 1) / 100 - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        achieved = len(sent) / (time.perf_counter() - started)
        settle(1.0)
        output, _ = follower.communicate("", timeout=120)
    arrivals = {int(k): v for k, v in json.loads(output.strip().splitlines()[-1]).items()}
    delays = [(arrivals[s] - t) * 1000 for s, t in sent.items() if s in arrivals]
    return {
        "p50_ms": percentile(delays, 50),
        "p99_ms": percentile(delays, 99),
        "lines_per_second": achieved,
        "lines_received": len(delays),
        "lines_sent": len(sent),
    }


def follow(target: Process, baseline: Process, quick: bool) -> dict[str, Any]:
    real = log_follow(target, quick)
    echo = log_follow(baseline, quick)
    return {
        "S1 log follow at 10,000 lines/s": {
            **{f"tracking_{k}": v for k, v in real.items()},
            "echo_p99_ms": echo["p99_ms"],
        }
    }


def read_latencies(stub: TrackingServiceStub, execution_id: str, seconds: float) -> list[float]:
    """GetJobStatus one after the other for `seconds`: each call's latency in ms."""
    latencies = []
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        started = time.perf_counter()
        stub.GetJobStatus(pb.GetJobStatusRequest(execution_id=execution_id), timeout=60)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def replay_storm(target: Process, quick: bool) -> dict[str, Any]:
    """A plain read while many streams replay a 4 MB log from its start, over and over."""
    count = 50 if quick else 200
    seconds = 3 if quick else 10
    with grpc.insecure_channel(target.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = stub.CreateExecution(pb.CreateExecutionRequest()).execution.execution_id
        stub.UpdateJobStatus(
            pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
        )
        batch = [epb.LogEntry(message="z" * 1000) for _ in range(1000)]
        for _ in range(4):
            stub.AppendLogs(pb.AppendLogsRequest(execution_id=execution_id, entries=batch))
        quiet = read_latencies(stub, execution_id, seconds)
        storm = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.watchers",
                "replay",
                target.address,
                execution_id,
                str(count),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert storm.stdout is not None
        storm.stdout.readline()
        settle(1.0)
        during = read_latencies(stub, execution_id, seconds)
        output, _ = storm.communicate("", timeout=120)
    replays = json.loads(output.strip().splitlines()[-1])["replays"]
    return {
        f"R1 GetJobStatus during {count} replays": {
            "p50_ms": percentile(during, 50),
            "p99_ms": percentile(during, 99),
            "quiet_p99_ms": percentile(quiet, 99),
            "calls": len(during),
            "replays_done": replays,
        }
    }


def dashboard(target: Process, http_url: str, quick: bool) -> dict[str, Any]:
    return {"H2 status change to the dashboard": dashboard_latency(target.address, http_url, quick)}


TARGETS = {
    "U1 GetJobStatus": ("ratio", ">=", 0.8),
    "U2 ListExecutions (page of 100)": ("ratio", ">=", 0.3),
    "W1 UpdateJobStatus (progress)": ("ratio", ">=", 0.5),
    "L1 AppendLogs (batches of 500)": ("lines_per_second", ">=", 200000),
    "F1 fan-out to 1000 watchers": ("tracking_p99_ms", "<=", 50),
    "F1 fan-out to 10000 watchers": ("tracking_p99_ms", "<=", 500),
    "F2 memory per idle watcher": ("kb_per_watcher", "<=", 20),
    "S1 log follow at 10,000 lines/s": ("tracking_p99_ms", "<=", 50),
    "R1 GetJobStatus during 50 replays": ("p99_ms", "<=", 100),
    "R1 GetJobStatus during 200 replays": ("p99_ms", "<=", 100),
    "H2 status change to the dashboard": ("p99_ms", "<=", 250),
}


def table(results: dict[str, Any]) -> str:
    lines = [f"{'benchmark':<36} {'figures':<78} {'target':<22} met"]
    for name, figures in results.items():
        shown = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
        )
        key, op, bound = TARGETS.get(name, ("", "", 0))
        value = figures.get(key)
        met = (
            ""
            if value is None
            else ("yes" if (value >= bound if op == ">=" else value <= bound) else "NO")
        )
        lines.append(f"{name:<36} {shown:<78} {key + ' ' + op + ' ' + str(bound):<22} {met}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres", metavar="URL", help="measure on this PostgreSQL database instead of SQLite"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller runs (a smoke test of the suite)"
    )
    parser.add_argument(
        "--only", metavar="STAGE", action="append", help="run only this stage (repeatable)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        url = args.postgres or f"sqlite:///{work / 'bench.db'}"
        http_address = free_http_address()
        target = tracking_server(url, TRACKING_HTTP_ADDRESS=http_address).start()
        baseline = echo_server().start()
        try:
            results: dict[str, Any] = {}
            stages: list[tuple[str, Callable[[], dict[str, Any]]]] = [
                ("unary calls", lambda: unary(target, baseline, work, args.quick)),
                ("log ingest", lambda: log_ingest(target, work, args.quick)),
                ("fan-out", lambda: fan_out(target, baseline, args.quick)),
                ("log follow", lambda: follow(target, baseline, args.quick)),
                ("memory", lambda: memory_per_watcher(target, args.quick)),
                ("replay storm", lambda: replay_storm(target, args.quick)),
                ("dashboard", lambda: dashboard(target, f"http://{http_address}", args.quick)),
            ]
            for stage, run in stages:
                if args.only and stage not in args.only:
                    continue
                print(f"running {stage} ...", file=sys.stderr, flush=True)
                results.update(run())
        finally:
            target.stop()
            baseline.stop()
    machine = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "database": "postgresql" if args.postgres else "sqlite",
        "quick": args.quick,
    }
    print(f"machine: {machine}")
    print(table(results))
    RESULTS.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
