"""What a watcher costs a writer: the server's CPU per status change sent to a watcher, ours
against gRPC's own floor, measured in the same run with the same clients.

    python -m bench.fan_out_cost [--seconds 20] [--watchers 500 --watchers 1000]
                                 [--server tracking --server echo]

For each server and each number of watchers (0 first), N WatchStatus streams in other
processes watch one execution, reading every message or never reading after the first;
then one writer (h2load, a C client, one call in flight) calls UpdateJobStatus (progress)
on that execution for `seconds`. The floor is bench/echo_server.py: a bare grpc.aio
handler yielding the same kind of pre-serialized bytes from an asyncio.Queue per stream.

Per case: the writer's calls; the server's CPU (utime + stime from /proc) from the
writer's start until the server is quiet again (every change sent, or held for a reader
that does not read), and the share of a core that was (the rest of the machine's work
takes the rest); and that CPU per change per watcher ("us/msg"), net of what the same
server spends per call with no watcher. Prints one table, the machine's core count and its
load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from bench.harness import (
    ROOT,
    Process,
    echo_server,
    finish,
    h2load,
    last_json_line,
    read_line,
    tracking_server,
)
from bench.watchers import open_seconds
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def quiet(pid: int, bound: float) -> float:
    """Wait until the process uses under a tenth of a core (at most `bound` seconds); its CPU
    time then."""
    deadline = time.monotonic() + bound
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - last < 0.05:
            return now
        last = now
    return last


@dataclass
class Watchers:
    popen: subprocess.Popen[str] | None
    opened: int
    failed: Counter[str]


def start_watchers(address: str, execution_id: str, count: int, unread: bool) -> Watchers:
    if not count:
        return Watchers(None, 0, Counter())
    args = ["watch", address, execution_id, str(count), str(max(1, count // 100))]
    popen = subprocess.Popen(
        [sys.executable, "-m", "bench.watchers", *args, *(["unread"] if unread else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    line = read_line(popen, open_seconds(count) + 30)
    if not line:
        popen.kill()
        return Watchers(popen, 0, Counter({"NO ANSWER": count}))
    ready = json.loads(line)
    return Watchers(popen, ready["opened"], Counter(ready["failed"]))


def received(watchers: Watchers) -> tuple[int, dict[str, int]]:
    """Events the watchers received, and how streams that had opened ended."""
    if watchers.popen is None:
        return 0, {}
    line = last_json_line(finish(watchers.popen, 120))
    if line is None or not line.startswith("{"):
        return 0, {"NO ANSWER": watchers.opened}
    report = json.loads(line)
    return sum(n for n, _ in report["revisions"].values()), report["ended"]


def one_case(
    server: Process, count: int, unread: bool, seconds: float, work: Path
) -> dict[str, Any]:
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = stub.CreateExecution(pb.CreateExecutionRequest()).execution.execution_id
        stub.UpdateJobStatus(
            pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
        )
    watchers = start_watchers(server.address, execution_id, count, unread)
    time.sleep(1.0)
    request = pb.UpdateJobStatusRequest(
        execution_id=execution_id, progress=pb.ProgressAction(progress=0.5, phase="p")
    )
    before = cpu_seconds(server.pid)
    began = time.monotonic()
    load = h2load(
        server.address,
        "UpdateJobStatus",
        request,
        seconds=seconds,
        clients=1,
        streams=1,
        workdir=work,
    )
    after = quiet(server.pid, 60)
    wall = time.monotonic() - began
    got, ended = received(watchers)
    calls = load.succeeded
    return {
        "watchers": watchers.opened,
        "refused": dict(watchers.failed),
        "unread": unread,
        "calls": calls,
        "failed_calls": load.failed,
        "cpu_seconds": after - before,
        # The share of a core the server had: well under 1 on a machine busy elsewhere.
        "core_share": (after - before) / wall,
        "received": got,
        "ended_early": ended,
    }


def per_message_us(case: dict[str, Any], alone: dict[str, Any]) -> float:
    """Server CPU per change per watcher, net of the writer's own calls (measured alone)."""
    if not case["watchers"] or not case["calls"]:
        return float("nan")
    per_call = alone["cpu_seconds"] / max(alone["calls"], 1)
    net = case["cpu_seconds"] - per_call * case["calls"]
    return float(net / (case["calls"] * case["watchers"]) * 1e6)


def measure(server: Process, counts: list[int], seconds: float, work: Path) -> list[dict[str, Any]]:
    cases = [one_case(server, 0, False, seconds, work)]
    for count in counts:
        for unread in (False, True):
            cases.append(one_case(server, count, unread, seconds, work))
            print(f"  {cases[-1]}", file=sys.stderr, flush=True)
    for case in cases:
        case["us_per_message"] = per_message_us(case, cases[0])
    return cases


def table(results: dict[str, list[dict[str, Any]]], seconds: float) -> str:
    lines = [
        f"{'server':<10} {'watchers':>8} {'reading':>8} {'calls':>7} {'CPU s':>7} {'core':>5} "
        f"{'us/msg':>7} {'received':>9}  ended early / refused"
    ]
    for name, cases in results.items():
        for case in cases:
            reading = "-" if not case["watchers"] else ("no" if case["unread"] else "yes")
            lines.append(
                f"{name:<10} {case['watchers']:>8} {reading:>8} {case['calls']:>7} "
                f"{case['cpu_seconds']:>7.1f} {case['core_share']:>5.2f} "
                f"{case['us_per_message']:>7.1f} "
                f"{case['received']:>9}  {case['ended_early'] or ''} {case['refused'] or ''}"
            )
    echo = {(c["watchers"], c["unread"]): c for c in results.get("echo", [])}
    for case in results.get("tracking", []):
        floor = echo.get((case["watchers"], case["unread"]))
        if floor and case["watchers"]:
            lines.append(
                f"ratio to echo, {case['watchers']} {'never-reading' if case['unread'] else 'reading'}"
                f" watchers: CPU per message {case['us_per_message'] / floor['us_per_message']:.2f},"
                f" writer's calls {case['calls'] / max(floor['calls'], 1):.2f}"
            )
    lines.append(f"{seconds:g} s per case")
    return "\n".join(lines)


SERVERS = {
    "tracking": lambda work: tracking_server(f"sqlite:///{work / 'fan_out.db'}"),
    "echo": lambda work: echo_server(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--watchers", type=int, action="append")
    parser.add_argument("--server", choices=list(SERVERS), action="append")
    args = parser.parse_args()
    counts = args.watchers or [500, 1000]
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for name in args.server or ["echo", "tracking"]:
            server = SERVERS[name](work).start()
            print(f"{name} ...", file=sys.stderr, flush=True)
            try:
                results[name] = measure(server, counts, args.seconds, work)
            finally:
                server.stop()
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    print(table(results, args.seconds))


if __name__ == "__main__":
    main()
