"""`make bench`: the real server against a no-op baseline, in the same run, on this machine.

    python -m bench [--quick] [--column sqlite|postgresql|workers ...] [--only STAGE ...]

Measures the server on SQLite, on PostgreSQL (a new database on TRACKING_TEST_POSTGRES_URL's
server, default the local one) and on PostgreSQL with `serve --workers 2`, prints one
table and writes bench/results.json. Speeds are ratios to a baseline measured in the same
run: the no-op echo server for RPCs and streams, raw sqlite3 executemany for log ingest.
Every wait has a bound; streams that fail to open or end early are counted and shown.
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
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from bench import metrics
from bench.dashboard import dashboard_latency, free_http_address
from bench.events import events_out
from bench.harness import (
    POSTGRES_URL,
    ROOT,
    Process,
    echo_server,
    finish,
    h1load,
    h2load,
    h2load_each,
    last_json_line,
    percentile,
    postgres_database,
    postgres_reachable,
    read_line,
    settle,
    tracking_server,
)
from bench.watchers import open_seconds
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

RESULTS = ROOT / "bench" / "results.json"


WRITERS = 64


def start_execution(stub: TrackingServiceStub, **fields: Any) -> str:
    execution_id = stub.CreateExecution(
        pb.CreateExecutionRequest(execution=epb.Execution(**fields))
    ).execution.execution_id
    stub.UpdateJobStatus(
        pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
    )
    return str(execution_id)


def seed(stub: TrackingServiceStub) -> tuple[str, list[str]]:
    """100+ executions to list, one running execution to read and update, and WRITERS
    more running ones, one per concurrent writer."""
    for _ in range(110):
        stub.CreateExecution(
            pb.CreateExecutionRequest(
                execution=epb.Execution(job_name="seed", labels={"team": "bench"})
            )
        )
    execution_id = start_execution(stub)
    return execution_id, [start_execution(stub, job_name="writer") for _ in range(WRITERS)]


def checked(stub: TrackingServiceStub, method: str, request: Any) -> None:
    """h2load sees HTTP status only: make sure the request itself succeeds."""
    getattr(stub, method)(request, timeout=10)


def progress(execution_id: str) -> pb.UpdateJobStatusRequest:
    return pb.UpdateJobStatusRequest(
        execution_id=execution_id, progress=pb.ProgressAction(progress=0.5, phase="p")
    )


def unary_cases(execution_id: str) -> dict[str, tuple[str, Any, int]]:
    """name -> (method, request, streams per connection); h2load opens 4 connections."""
    return {
        "U1 GetJobStatus": ("GetJobStatus", pb.GetJobStatusRequest(execution_id=execution_id), 16),
        "U2 ListExecutions (page of 100)": (
            "ListExecutions",
            pb.ListExecutionsRequest(page_size=100),
            4,
        ),
        "W1 UpdateJobStatus (progress)": ("UpdateJobStatus", progress(execution_id), 8),
    }


W64 = f"W1 UpdateJobStatus, {WRITERS} executions"


def unary_seconds(quick: bool) -> float:
    return 1.5 if quick else 8.0


def unary_rates(
    address: str, execution_id: str, writers: list[str], work: Path, quick: bool
) -> dict[str, float]:
    """Calls a second of each unary case against the server at `address`."""
    seconds = unary_seconds(quick)
    rates = {}
    for name, (method, request, streams) in unary_cases(execution_id).items():
        result = h2load(
            address, method, request, seconds=seconds, clients=4, streams=streams, workdir=work
        )
        rates[name] = result.requests_per_second
        rates[name + " failed"] = result.failed
    result = h2load_each(
        address,
        "UpdateJobStatus",
        [progress(writer) for writer in writers],
        seconds=seconds,
        workdir=work,
    )
    rates[W64] = result.requests_per_second
    rates[W64 + " failed"] = result.failed
    return rates


class Baseline:
    """The echo server and its figures, measured once a run and shared by every column."""

    def __init__(self, process: Process, work: Path, quick: bool) -> None:
        self.process = process
        self.work = work
        self.quick = quick
        self._unary: dict[str, float] | None = None
        self._fan_out: dict[int, dict[str, Any]] = {}
        self._follow: dict[str, Any] | None = None
        self._raw: float | None = None

    @property
    def address(self) -> str:
        return self.process.address

    def unary(self) -> dict[str, float]:
        if self._unary is None:
            writers = [f"echo-{i}" for i in range(WRITERS)]
            self._unary = unary_rates(self.address, "echo", writers, self.work, self.quick)
        return self._unary

    def fan_out(self, count: int, changes: int) -> dict[str, Any]:
        if count not in self._fan_out:
            self._fan_out[count] = fan_out_once(self.process, count, changes)
        return self._fan_out[count]

    def raw_sqlite(self, batch: int) -> float:
        if self._raw is None:
            self._raw = raw_sqlite_lines_per_second(self.work, 100 if self.quick else 400, batch)
        return self._raw

    def follow(self) -> dict[str, Any]:
        if self._follow is None:
            self._follow = log_follow(self.process, self.quick)
        return self._follow


def unary(target: Process, baseline: Baseline, work: Path, quick: bool) -> dict[str, Any]:
    with grpc.insecure_channel(target.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id, writers = seed(stub)
        for method, request, _ in unary_cases(execution_id).values():
            checked(stub, method, request)
        checked(stub, "UpdateJobStatus", progress(writers[0]))
    echo = baseline.unary()
    real = unary_rates(target.address, execution_id, writers, work, quick)
    results: dict[str, Any] = {}
    for name in [*unary_cases(execution_id), W64]:
        results[name] = {
            "tracking_per_second": real[name],
            "echo_per_second": echo[name],
            "ratio": real[name] / echo[name],
            "failed": int(real[name + " failed"]),
        }
    results["H1 GetJobStatus over HTTP/JSON"] = http_unary(
        target, execution_id, real["U1 GetJobStatus"], work, quick
    )
    return results


def http_unary(
    target: Process, execution_id: str, grpc_rate: float, work: Path, quick: bool
) -> dict[str, Any]:
    """GetJobStatus as Connect JSON over HTTP/1.1 keep-alive, against the same call over gRPC."""
    if not target.http_address:
        return {"skipped": "the server has no HTTP port"}
    url = f"http://{target.http_address}/tracking.v1.TrackingService/GetJobStatus"
    body = json.dumps({"execution_id": execution_id}).encode()
    answer = urllib.request.urlopen(
        urllib.request.Request(url, body, {"content-type": "application/json"}), timeout=10
    )
    if "jobStatus" not in json.loads(answer.read()):
        raise RuntimeError("GetJobStatus over HTTP did not answer a job status")
    result = h1load(url, body, seconds=unary_seconds(quick), clients=16, workdir=work)
    return {
        "http_per_second": result.requests_per_second,
        "grpc_per_second": grpc_rate,
        "ratio": result.requests_per_second / grpc_rate,
        "failed": result.failed,
    }


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


def log_ingest(target: Process, baseline: Baseline, work: Path, quick: bool) -> dict[str, Any]:
    batch = 500
    with grpc.insecure_channel(target.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = start_execution(stub)
        request = pb.AppendLogsRequest(
            execution_id=execution_id,
            entries=[epb.LogEntry(message="x" * 80) for _ in range(batch)],
        )
        checked(stub, "AppendLogs", request)
    result = h2load(
        target.address,
        "AppendLogs",
        request,
        seconds=unary_seconds(quick),
        clients=4,
        streams=1,
        workdir=work,
    )
    lines = result.requests_per_second * batch
    raw = baseline.raw_sqlite(batch)
    return {
        "L1 AppendLogs (batches of 500)": {
            "lines_per_second": lines,
            "raw_sqlite_lines_per_second": raw,
            "ratio": lines / raw,
            "failed": result.failed,
        }
    }


@dataclass
class Watchers:
    """Processes of watchers of one execution, and how many of their streams opened."""

    popens: list[subprocess.Popen[str]]
    opened: int
    failed: Counter[str]


def start_watchers(address: str, execution_id: str, count: int) -> Watchers:
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
    opened = 0
    failed: Counter[str] = Counter()
    for popen in popens:
        # Each process reports within open_seconds(); a process that does not is killed.
        line = read_line(popen, open_seconds(per_process) + 30)
        if not line:
            failed["NO ANSWER"] += per_process
            popen.kill()
            continue
        ready = json.loads(line)
        opened += ready["opened"]
        failed.update(ready["failed"])
    if failed:
        print(
            f"  {sum(failed.values())} of {count} streams did not open: {dict(failed)}",
            file=sys.stderr,
        )
    return Watchers(popens, opened, failed)


def stop_watchers(watchers: Watchers) -> list[dict[str, Any]]:
    """The last line of each watcher process (nothing from one that did not end in time)."""
    reports = []
    for popen in watchers.popens:
        line = last_json_line(finish(popen, 120))
        if line is not None and line.startswith("{"):
            reports.append(json.loads(line))
    return reports


def fan_out_once(process: Process, count: int, changes: int) -> dict[str, Any]:
    """Time from sending a change until the last of the watchers that opened has it."""
    with grpc.insecure_channel(process.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = start_execution(stub)
        watchers = start_watchers(process.address, execution_id, count)
        sent: dict[int, float] = {}
        for step in range(changes):
            before = time.time()
            response = stub.UpdateJobStatus(
                pb.UpdateJobStatusRequest(
                    execution_id=execution_id, progress=pb.ProgressAction(progress=step / changes)
                ),
                timeout=60,
            )
            sent[response.job_status.revision] = before
            time.sleep(max(0.3, count / 10000))
        settle(1.0)
    last: dict[int, float] = {}
    received: Counter[int] = Counter()
    ended: Counter[str] = Counter()
    for report in stop_watchers(watchers):
        ended.update(report["ended"])
        for revision, (n, latest) in report["revisions"].items():
            received[int(revision)] += n
            last[int(revision)] = max(last.get(int(revision), 0.0), latest)
    delays = [(last[r] - sent[r]) * 1000 for r in sent if r in last]
    complete = sum(1 for r in sent if received[r] >= watchers.opened > 0)
    return {
        "p50_ms": percentile(delays, 50) if delays else float("nan"),
        "p99_ms": percentile(delays, 99) if delays else float("nan"),
        "changes_complete": complete,
        "changes": len(sent),
        "streams_opened": watchers.opened,
        "streams_refused": dict(watchers.failed),
        "streams_ended_early": dict(ended),
    }


def fan_out(target: Process, baseline: Baseline, quick: bool) -> dict[str, Any]:
    results = {}
    for count in (1000,) if quick else (1000, 10000):
        changes = 10 if quick else 30
        real = fan_out_once(target, count, changes)
        echo = baseline.fan_out(count, changes)
        results[f"F1 fan-out to {count} watchers"] = {
            **{f"tracking_{k}": v for k, v in real.items()},
            "echo_p99_ms": echo["p99_ms"],
            "echo_streams_opened": echo["streams_opened"],
            "ratio_p99": real["p99_ms"] / max(echo["p99_ms"], 1e-9),
        }
    return results


def memory_per_watcher(target: Process, quick: bool) -> dict[str, Any]:
    """RSS growth per idle watcher: the second of two equal groups of watchers, in a server
    of its own on the same database. Memory earlier stages freed would make watchers look
    cheaper than they are, and the first group pays for what grows once (buffers, pools)."""
    count = 1000 if quick else 5000
    fresh = Process(target.args, {**target.env, "TRACKING_HTTP_ADDRESS": ""}).start()
    try:
        with grpc.insecure_channel(fresh.address) as channel:
            stub = TrackingServiceStub(channel)
            execution_id = stub.CreateExecution(pb.CreateExecutionRequest()).execution.execution_id
            first = start_watchers(fresh.address, execution_id, count)
            settle(2.0)
            before = fresh.rss_kb_tree()
            second = start_watchers(fresh.address, execution_id, count)
            settle(2.0)
            after = fresh.rss_kb_tree()
            stop_watchers(second)
            stop_watchers(first)
    finally:
        fresh.stop()
    return {
        "F2 memory per idle watcher": {
            "kb_per_watcher": (after - before) / max(second.opened, 1),
            "watchers": second.opened,
            "streams_refused": dict(first.failed + second.failed),
            "rss_before_kb": before,
            "rss_after_kb": after,
        }
    }


def log_follow(process: Process, quick: bool) -> dict[str, Any]:
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
        if not read_line(follower, 60):
            finish(follower, 5)
            return {"failed": "the follower's stream did not open within 60 s"}
        sent: dict[int, float] = {}
        batch = [epb.LogEntry(message="y" * 80) for _ in range(100)]
        started = time.perf_counter()
        for step in range(seconds * 100):
            before = time.time()
            last = stub.AppendLogs(
                pb.AppendLogsRequest(execution_id=execution_id, entries=batch), timeout=60
            ).last_seq
            for seq in range(last - 99, last + 1):
                sent[seq] = before
            pause = started + (step + 1) / 100 - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        achieved = len(sent) / (time.perf_counter() - started)
        settle(1.0)
        line = last_json_line(finish(follower, 120))
    if line is None:
        return {"failed": "the follower did not report"}
    arrivals = {int(k): v for k, v in json.loads(line).items()}
    delays = [(arrivals[s] - t) * 1000 for s, t in sent.items() if s in arrivals]
    return {
        "p50_ms": percentile(delays, 50),
        "p99_ms": percentile(delays, 99),
        "lines_per_second": achieved,
        "lines_received": len(delays),
        "lines_sent": len(sent),
    }


def follow(target: Process, baseline: Baseline, quick: bool) -> dict[str, Any]:
    real = log_follow(target, quick)
    echo = baseline.follow()
    return {
        "S1 log follow at 10,000 lines/s": {
            **{f"tracking_{k}": v for k, v in real.items()},
            "echo_p99_ms": echo.get("p99_ms", float("nan")),
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
        read_line(storm, 60)
        settle(1.0)
        during = read_latencies(stub, execution_id, seconds)
        line = last_json_line(finish(storm, 120))
    replays = json.loads(line)["replays"] if line is not None else "no report"
    return {
        f"R1 GetJobStatus during {count} replays": {
            "p50_ms": percentile(during, 50),
            "p99_ms": percentile(during, 99),
            "quiet_p99_ms": percentile(quiet, 99),
            "calls": len(during),
            "replays_done": replays,
        }
    }


def dashboard(target: Process, quick: bool) -> dict[str, Any]:
    if not target.http_address:
        return {"H2 status change to the dashboard": {"skipped": "no HTTP port"}}
    http_url = f"http://{target.http_address}"
    return {"H2 status change to the dashboard": dashboard_latency(target.address, http_url, quick)}


# name -> (figure, comparison, bound, how the figure is shown)
TARGETS: dict[str, tuple[str, str, float, str]] = {
    "U1 GetJobStatus": ("ratio", ">=", 0.8, "rate"),
    "U2 ListExecutions (page of 100)": ("ratio", ">=", 0.3, "rate"),
    "W1 UpdateJobStatus (progress)": ("ratio", ">=", 0.5, "rate"),
    W64: ("ratio", ">=", 0.5, "rate"),
    "H1 GetJobStatus over HTTP/JSON": ("ratio", ">=", 0.5, "http"),
    "L1 AppendLogs (batches of 500)": ("lines_per_second", ">=", 200000, "lines"),
    "F1 fan-out to 1000 watchers": ("tracking_p99_ms", "<=", 50, "fan-out"),
    "F1 fan-out to 10000 watchers": ("tracking_p99_ms", "<=", 500, "fan-out"),
    "F2 memory per idle watcher": ("kb_per_watcher", "<=", 20, "kb"),
    "S1 log follow at 10,000 lines/s": ("tracking_p99_ms", "<=", 50, "ms"),
    "R1 GetJobStatus during 50 replays": ("p99_ms", "<=", 100, "ms"),
    "R1 GetJobStatus during 200 replays": ("p99_ms", "<=", 100, "ms"),
    "H2 status change to the dashboard": ("p99_ms", "<=", 250, "ms"),
    "M1 LogMetrics (batches of 1,000)": ("points_per_second", ">=", 200000, "points"),
    "M2 GetMetricHistory (1,000,000 points, 1,000 buckets)": ("p99_ms", "<=", 100, "ms"),
    "M2 GetMetricHistory (200,000 points, 1,000 buckets)": ("p99_ms", "<=", 100, "ms"),
    "M3 point committed to drawn": ("p99_ms", "<=", 250, "ms"),
    "E1 commit to webhook received": ("p99_ms", "<=", 50, "ms"),
    "E2 deliveries to one webhook": ("per_second", ">=", 2000, "per second"),
    "E2 deliveries to NATS JetStream": ("per_second", ">=", 2000, "per second"),
}


def met(name: str, figures: dict[str, Any]) -> str:
    key, op, bound, _ = TARGETS.get(name, ("", "", 0.0, ""))
    value = figures.get(key)
    if not isinstance(value, int | float) or value != value:  # absent, or NaN
        return ""
    return "yes" if (value >= bound if op == ">=" else value <= bound) else "NO"


def headline(name: str, figures: dict[str, Any]) -> str:
    """The figure a row of the table shows, with whether it meets its target."""
    if "skipped" in figures or ("failed" in figures and isinstance(figures["failed"], str)):
        return str(figures.get("skipped") or figures["failed"])[:30]
    shown = TARGETS.get(name, ("", "", 0.0, ""))[3]
    if shown == "rate":
        text = f"{figures['tracking_per_second']:,.0f}/s {figures['ratio']:.2f}"
    elif shown == "http":
        text = f"{figures['http_per_second']:,.0f}/s {figures['ratio']:.2f}"
    elif shown == "lines":
        text = f"{figures['lines_per_second']:,.0f}/s"
    elif shown == "points":
        text = f"{figures['points_per_second']:,.0f}/s"
    elif shown == "fan-out":
        text = f"p99 {figures['tracking_p99_ms']:.1f} ms"
        refused = sum(figures.get("tracking_streams_refused", {}).values())
        if refused:
            text += f" ({refused} refused)"
    elif shown == "kb":
        text = f"{figures['kb_per_watcher']:.1f} KB"
    elif shown == "per second":
        text = f"{figures['per_second']:,.0f}/s"
    else:
        key = "tracking_p99_ms" if "tracking_p99_ms" in figures else "p99_ms"
        text = f"p99 {figures[key]:.1f} ms"
    mark = met(name, figures)
    return f"{text} {mark}".strip()


def target_text(name: str) -> str:
    key, op, bound, shown = TARGETS.get(name, ("", "", 0.0, ""))
    if not key:
        return ""
    what = {
        "ratio": "ratio",
        "lines_per_second": "lines/s",
        "points_per_second": "points/s",
        "per_second": "deliveries/s",
    }.get(key, "")
    unit = {"fan-out": " ms", "ms": " ms", "kb": " KB"}.get(shown, "")
    return f"{what} {op} {bound:,g}{unit}".strip()


def table(columns: dict[str, dict[str, Any]], echo: dict[str, Any]) -> str:
    """One row per benchmark, one column per database setup, and the echo baseline."""
    names: list[str] = []
    for results in columns.values():
        names += [name for name in results if name not in names]
    widths = [40, *[26] * len(columns), 20, 16]
    header = ["benchmark", *columns, "echo (same run)", "target"]
    lines = [" ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    for name in names:
        cells = [name]
        for results in columns.values():
            cells.append(headline(name, results[name]) if name in results else "-")
        cells += [echo.get(name, ""), target_text(name)]
        lines.append(" ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    return "\n".join(lines)


def echo_figures(columns: dict[str, dict[str, Any]]) -> dict[str, str]:
    shown: dict[str, str] = {}
    for results in columns.values():
        for name, figures in results.items():
            if "echo_per_second" in figures:
                shown[name] = f"{figures['echo_per_second']:,.0f}/s"
            elif "echo_p99_ms" in figures:
                shown[name] = f"p99 {figures['echo_p99_ms']:.1f} ms"
            elif "raw_sqlite_lines_per_second" in figures:
                shown[name] = f"raw {figures['raw_sqlite_lines_per_second']:,.0f}/s"
    return shown


@dataclass(frozen=True)
class Column:
    """One database setup the server is measured on."""

    name: str
    database: str  # "sqlite" or "postgresql"
    workers: int = 1


Stage = Callable[[Process, Baseline, Path, bool], dict[str, Any]]
# name -> (what it runs, which columns run it). "all"; "quick: SQLite": not on `serve
# --workers` (speed across processes is what that column is for; memory and latency of
# one process are the other columns'), and SQLite only under --quick (keeps --quick under
# two minutes; a full run measures both databases).
STAGES: dict[str, tuple[Stage, str]] = {
    "unary calls": (lambda t, b, w, q: unary(t, b, w, q), "all"),
    "log ingest": (lambda t, b, w, q: log_ingest(t, b, w, q), "all"),
    "fan-out": (lambda t, b, w, q: fan_out(t, b, q), "all"),
    "memory": (lambda t, b, w, q: memory_per_watcher(t, q), "quick: SQLite"),
    "log follow": (lambda t, b, w, q: follow(t, b, q), "quick: SQLite"),
    "replay storm": (lambda t, b, w, q: replay_storm(t, q), "quick: SQLite"),
    "dashboard": (lambda t, b, w, q: dashboard(t, q), "quick: SQLite"),
    "events out": (lambda t, b, w, q: events_out(t.address, q), "all"),
    "metric ingest": (lambda t, b, w, q: metrics.ingest(t, w, q), "all"),
    "metric history": (lambda t, b, w, q: metrics.history(t, q), "all"),
    "metric chart": (lambda t, b, w, q: metrics.chart(t, q), "quick: SQLite"),
}


def runs_on(column: Column, where: str, quick: bool) -> bool:
    if column.workers > 1 and where != "all":
        return False
    return not (quick and where == "quick: SQLite" and column.database != "sqlite")


@contextmanager
def database_url(column: Column, work: Path) -> Iterator[str]:
    if column.database == "sqlite":
        yield f"sqlite:///{work / 'bench.db'}"
    else:
        with postgres_database() as url:
            yield url


def measure(
    column: Column, baseline: Baseline, work: Path, quick: bool, only: list[str] | None
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with database_url(column, work) as url:
        target = tracking_server(
            url,
            workers=column.workers,
            TRACKING_HTTP_ADDRESS=free_http_address(),
            # The events-out receivers listen on loopback.
            TRACKING_OUTBOUND_ALLOW_PRIVATE_ADDRESSES="true",
        ).start()
        try:
            for stage, (run, where) in STAGES.items():
                if (only and stage not in only) or not runs_on(column, where, quick):
                    continue
                began = time.perf_counter()
                print(f"{column.name}: {stage} ...", end="", file=sys.stderr, flush=True)
                results.update(run(target, baseline, work, quick))
                print(f" {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
        finally:
            target.stop()
    return results


COLUMNS = {
    "sqlite": Column("SQLite", "sqlite"),
    "postgresql": Column("PostgreSQL", "postgresql"),
    "workers": Column("PostgreSQL, 2 workers", "postgresql", workers=2),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="smaller runs (a smoke test of the suite)"
    )
    parser.add_argument(
        "--column",
        choices=list(COLUMNS),
        action="append",
        help="measure only this setup (repeatable; default: all three)",
    )
    parser.add_argument(
        "--only", metavar="STAGE", action="append", help="run only this stage (repeatable)"
    )
    args = parser.parse_args()
    chosen = [COLUMNS[name] for name in args.column or COLUMNS]
    skipped: dict[str, str] = {}
    if any(c.database == "postgresql" for c in chosen):
        unreachable = postgres_reachable()
        if unreachable is not None:
            for column in chosen:
                if column.database == "postgresql":
                    skipped[column.name] = f"PostgreSQL at {POSTGRES_URL}: {unreachable}"
            chosen = [c for c in chosen if c.database != "postgresql"]
    started = time.perf_counter()
    columns: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        baseline = Baseline(echo_server().start(), work, args.quick)
        try:
            for column in chosen:
                columns[column.name] = measure(column, baseline, work, args.quick, args.only)
        finally:
            baseline.process.stop()
    machine = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started),
    }
    print(f"machine: {machine}")
    for name, reason in skipped.items():
        print(f"{name}: not measured ({reason})")
    print(table(columns, echo_figures(columns)))
    RESULTS.write_text(
        json.dumps({"machine": machine, "results": columns, "skipped": skipped}, indent=2) + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
