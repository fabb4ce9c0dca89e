"""A canary's latency while readers send the most costly log pattern the server accepts.

    python -m bench.filter_canary [--seconds 10] [--attackers 4]

Starts the server on SQLite, stores 2,000 lines of 1,000 random a/b characters, picks of a
few patterns built to be slow the one that matches slowest here (the server refuses those
whose compiled program is larger), then measures GetExecution calls made every 50 ms:
first alone, then while `attackers` threads read the log with that pattern (and as many
follow it with StreamLogs) in a loop. Prints one table of canary latencies.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path

import grpc

from bench.harness import percentile, tracking_server
from tracking.service.domain.errors import ValidationCollector
from tracking.service.domain.log_filters import line_filter
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

CANDIDATES = [
    "(?:.{0,100}a){10}x",  # refused: 9,015 instructions
    "(?:[ab]{0,20}a){40}x",
    "(?:.{0,22}a){10}x",
    "(?:(?:a|b){0,10}a){90}x",
    "(?:[ab]{0,20}a){20}x",
    ".{0,200}a.{0,20}x",
]
LINES = ["".join(random.Random(line).choice("ab") for _ in range(1000)) for line in range(2000)]


def slowest_accepted() -> tuple[str, float]:
    """The accepted candidate that matches slowest here, and its µs a byte."""
    costs: list[tuple[float, str]] = []
    for pattern in CANDIDATES:
        keep = line_filter(ValidationCollector(), "", pattern)
        if not keep.matches:
            continue
        started = time.process_time()
        for line in LINES[:5]:
            keep.keeps(line)
        costs.append(((time.process_time() - started) / 5000 * 1e6, pattern))
    cost, pattern = max(costs)
    return pattern, cost


def canary(stub: TrackingServiceStub, execution_id: str, seconds: float) -> list[float]:
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        started = time.perf_counter()
        stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id), timeout=60)
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.05)
    return latencies


def attack(
    stub: TrackingServiceStub,
    execution_id: str,
    pattern: str,
    stream: bool,
    until: threading.Event,
    done: list[int],
) -> None:
    while not until.is_set():
        try:
            if stream:
                follow = pb.StreamLogsRequest(execution_id=execution_id, pattern=pattern)
                for _ in stub.StreamLogs(follow, timeout=5):
                    pass
            else:
                read = pb.GetExecutionLogsRequest(execution_id=execution_id, pattern=pattern)
                stub.GetExecutionLogs(read, timeout=60)
            done.append(1)
        except grpc.RpcError:
            return  # the deadline, or the channel closed at the end of the run


def row(name: str, values: list[float]) -> str:
    return (
        f"| {name} | {len(values)} | {percentile(values, 50):.1f} | {percentile(values, 99):.1f}"
        f" | {max(values):.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--pattern", default="", help="this pattern instead of the slowest")
    options = parser.parse_args()
    pattern, cost = (options.pattern, 0.0) if options.pattern else slowest_accepted()
    with tempfile.TemporaryDirectory() as directory:
        server = tracking_server(f"sqlite:///{Path(directory) / 'canary.db'}").start()
        try:
            with grpc.insecure_channel(server.address) as channel:
                stub = TrackingServiceStub(channel)
                execution_id = stub.CreateExecution(
                    pb.CreateExecutionRequest(execution=epb.Execution())
                ).execution.execution_id
                for first in range(0, len(LINES), 1000):
                    entries = [epb.LogEntry(message=m) for m in LINES[first : first + 1000]]
                    stub.AppendLogs(
                        pb.AppendLogsRequest(execution_id=execution_id, entries=entries)
                    )
                alone = canary(stub, execution_id, options.seconds / 2)
                until = threading.Event()
                done: list[int] = []
                streamed: list[int] = []
                attackers = [
                    threading.Thread(
                        target=attack,
                        args=(
                            stub,
                            execution_id,
                            pattern,
                            stream,
                            until,
                            streamed if stream else done,
                        ),
                        daemon=True,
                    )
                    for stream in (False, True)
                    for _ in range(options.attackers)
                ]
                for thread in attackers:
                    thread.start()
                attacked = canary(stub, execution_id, options.seconds)
                until.set()
        finally:
            server.stop()
    print(
        f"pattern {pattern!r}: {cost:.1f} µs a byte here; {options.attackers} readers and"
        f" {options.attackers} followers; reads finished {len(done)}, streams {len(streamed)}"
    )
    print("| canary GetExecution | calls | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    print(row("alone", alone))
    print(row("during the attack", attacked))


if __name__ == "__main__":
    main()
