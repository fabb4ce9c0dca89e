"""`make callgrind`: instructions the server executes per call, counted by valgrind's callgrind.

    python -m bench.callgrind [--calls N] [--column sqlite|postgresql|echo ...] [--case CASE ...]
                              [--top CASE ...] [--out DIR]

Wall-clock rates move with whatever else runs on the machine; instruction counts hardly do.
Each server (`tracking serve` on a new SQLite or PostgreSQL database, and the echo server
for reference) runs under callgrind with instrumentation off while it starts and its data
is set up through the gRPC stubs. Then, for each case: warm-up calls, the counters zeroed,
N calls one after the other from a Python client on a connection already open, and a dump,
whose total over N is the figure. Everything the server process executes is counted, gRPC's
threads included; the client and PostgreSQL's own processes are not. `--top U2` prints
where a case's instructions go (the functions with the most self cost, and the share of
each library). Prints one table, each figure with its ratio to the echo server's in the same
run, and writes bench/callgrind.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.message import Message

from bench.harness import (
    POSTGRES_URL,
    ROOT,
    Process,
    echo_server,
    postgres_database,
    postgres_reachable,
    tracking_server,
)
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

RESULTS = ROOT / "bench" / "callgrind.json"
# Bounds on every wait: the server runs about 50 times slower under callgrind.
START_SECONDS = 300.0
CALL_SECONDS = 120.0
CONTROL_SECONDS = 60.0
IDLE_SECONDS = 5.0
# The server's timers, pushed out of the measured windows: lease and storage checks,
# retention, stream heartbeats, keepalive pings and the webhook dispatcher's claims (a
# write every lease / 3 seconds) would otherwise land in some of them.
QUIET_TIMERS = {
    f"TRACKING_{name}_SECONDS": "3600"
    for name in (
        "LEASE_SWEEP",
        "STORAGE_CHECK",
        "RETENTION_SWEEP",
        "HEARTBEAT",
        "KEEPALIVE",
        "OUTBOUND_LEASE",
    )
}
COLUMNS = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "echo": "echo"}
# What each column of the table measured.
HEADINGS = {
    "SQLite": "tracking, SQLite",
    "PostgreSQL": "tracking, PostgreSQL",
    "echo": "echo server, no db",
}


def cases(execution_id: str) -> dict[str, tuple[str, Message]]:
    """name -> (method, request). CreateExecution comes last: it adds rows to the list."""
    return {
        "U1 GetJobStatus": ("GetJobStatus", pb.GetJobStatusRequest(execution_id=execution_id)),
        "U2 ListExecutions (page of 100)": (
            "ListExecutions",
            pb.ListExecutionsRequest(page_size=100),
        ),
        "W1 UpdateJobStatus (progress)": (
            "UpdateJobStatus",
            pb.UpdateJobStatusRequest(
                execution_id=execution_id, progress=pb.ProgressAction(progress=0.5, phase="p")
            ),
        ),
        "L1 AppendLogs (500 lines)": (
            "AppendLogs",
            pb.AppendLogsRequest(
                execution_id=execution_id,
                entries=[epb.LogEntry(message="x" * 80) for _ in range(500)],
            ),
        ),
        "C1 CreateExecution": (
            "CreateExecution",
            pb.CreateExecutionRequest(
                execution=epb.Execution(job_name="callgrind", labels={"team": "bench"})
            ),
        ),
    }


def case_named(short: str) -> str:
    for name in cases(""):
        if name.split()[0] == short.upper():
            return name
    raise argparse.ArgumentTypeError(f"no case {short} (U1, U2, W1, L1 or C1)")


def seed(stub: TrackingServiceStub) -> str:
    """110 executions to list, and the running one the other cases read and write."""
    for _ in range(110):
        stub.CreateExecution(
            pb.CreateExecutionRequest(
                execution=epb.Execution(job_name="seed", labels={"team": "bench"})
            ),
            timeout=CALL_SECONDS,
        )
    execution_id = stub.CreateExecution(
        pb.CreateExecutionRequest(), timeout=CALL_SECONDS
    ).execution.execution_id
    stub.UpdateJobStatus(
        pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction()),
        timeout=CALL_SECONDS,
    )
    return str(execution_id)


class Callgrind:
    """A server process started under callgrind, and its dumps."""

    def __init__(self, server: Process, out: Path) -> None:
        self.out = out
        self.dumps = 0
        valgrind = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--instr-atstart=no",
        ]
        self.process = Process([*valgrind, *server.args], server.env)

    def control(self, *options: str) -> None:
        # Always with the pid: without one, callgrind_control acts on every callgrind run.
        subprocess.run(
            ["callgrind_control", *options, str(self.process.pid)],
            capture_output=True,
            timeout=CONTROL_SECONDS,
            check=True,
        )

    def dump(self) -> tuple[int, Path]:
        """Write the counts since the last zero: their total, and the file."""
        self.dumps += 1
        self.control(f"--dump={self.dumps}")
        path = Path(f"{self.out}.{self.dumps}")
        until = time.monotonic() + CONTROL_SECONDS
        while time.monotonic() < until:
            # "totals:" ends the file. It is the sum of the cost lines, which "summary:" (at
            # the top) can fall short of by a percent or so while calls are under way.
            totals = re.search(r"^totals: (\d+)$", path.read_text() if path.exists() else "", re.M)
            if totals:
                return int(totals.group(1)), path
            time.sleep(0.2)
        raise RuntimeError(f"callgrind did not write {path}")


@dataclass
class Figure:
    instructions_per_call: float
    dump: Path


def measure_server(
    cg: Callgrind, seeded: bool, calls: int, warm_up: int, chosen: list[str]
) -> tuple[dict[str, Figure], float]:
    """Each chosen case's figure, and the instructions a second of the idle server."""
    cg.process.start(START_SECONDS)
    figures = {}
    try:
        with grpc.insecure_channel(cg.process.address) as channel:
            stub = TrackingServiceStub(channel)
            execution_id = seed(stub) if seeded else "echo"
            cg.control("--instr=on")
            for name, (method, request) in cases(execution_id).items():
                if name not in chosen:
                    continue
                call = getattr(stub, method)
                began = time.perf_counter()
                for _ in range(warm_up):
                    call(request, timeout=CALL_SECONDS)
                cg.control("--zero")
                for _ in range(calls):
                    call(request, timeout=CALL_SECONDS)
                total, dump = cg.dump()
                figures[name] = Figure(total / calls, dump)
                seconds = time.perf_counter() - began
                print(f"  {name}: {total / calls / 1e6:.2f} M ({seconds:.0f} s)", file=sys.stderr)
            cg.control("--zero")
            time.sleep(IDLE_SECONDS)
            idle = cg.dump()[0] / IDLE_SECONDS
    finally:
        cg.process.stop()
    return figures, idle


@contextmanager
def server_for(column: str, work: Path) -> Iterator[Process]:
    if column == "echo":
        yield echo_server()
    elif column == "sqlite":
        yield tracking_server(f"sqlite:///{work / 'callgrind.db'}", 1, **QUIET_TIMERS)
    else:
        with postgres_database() as url:
            yield tracking_server(url, 1, **QUIET_TIMERS)


# Name compression in callgrind's format: "fn=(12) name" names 12, a later "cfn=(12)" uses it.
NAME_TABLES = {"ob": "ob", "cob": "ob", "fn": "fn", "cfn": "fn"}


def self_costs(dump: Path) -> Counter[tuple[str, str]]:
    """Instructions executed in each (library, function) itself, callees excluded."""
    names: dict[tuple[str, str], str] = {}
    current = {"ob": "?", "fn": "?"}
    costs: Counter[tuple[str, str]] = Counter()
    after_call = False
    for line in dump.read_text().splitlines():
        key, equals, value = line.partition("=")
        if equals and key in NAME_TABLES:
            table = NAME_TABLES[key]
            number, _, name = value.partition(" ")
            if name:
                names[table, number] = name
            if key == table:
                current[table] = names.get((table, number), number)
        elif key == "calls":
            after_call = True
        elif line[:1] in "0123456789+-*":
            # The line after calls= is the call's inclusive cost, not the caller's own.
            fields = line.split()
            if not after_call and len(fields) > 1:
                costs[current["ob"], current["fn"]] += int(fields[1])
            after_call = False
    return costs


def top(dump: Path, calls: int, count: int = 15) -> str:
    """The functions with the most self cost in a dump, per call, and each library's share."""
    functions: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    for (library, function), cost in self_costs(dump).items():
        # "function'2" is the function at recursion depth 2: counted as the function.
        name = re.sub(r"'\d+$", "", function)
        functions[f"{name} [{Path(library).name}]"] += cost
        libraries[Path(library).name] += cost
    total = sum(libraries.values()) or 1
    lines = [f"  self, M per call   share   function [library]   ({dump.name})"]
    for function, cost in functions.most_common(count):
        lines.append(f"  {cost / calls / 1e6:17.3f}   {cost / total:5.1%}   {function}")
    lines.append("  by library:")
    for library, cost in libraries.most_common(8):
        lines.append(f"  {cost / calls / 1e6:17.3f}   {cost / total:5.1%}   {library}")
    return "\n".join(lines)


def row(cells: list[str]) -> str:
    return "".join(cell.ljust(width) for cell, width in zip(cells, [34, *[22] * 3], strict=False))


def cell(per_call: float, echo: float | None) -> str:
    """Instructions per call, and how many times the echo server's that is."""
    figure = f"{per_call / 1e6:,.2f} M"
    return f"{figure:<9} {per_call / echo:5.2f}x" if echo else figure


def table(
    results: dict[str, dict[str, Figure]], idle: dict[str, float], calls: int, chosen: list[str]
) -> str:
    echo = results.get("echo", {})
    lines = [
        f"instructions per call in the server, {calls} calls one at a time after a warm-up,"
        f" at {commit()}; after each figure, its ratio to the echo server's in this run:",
        row(["case", *[HEADINGS[column] for column in results]]),
    ]
    for name in chosen:
        baseline = echo[name].instructions_per_call if name in echo else None
        lines.append(
            row(
                [
                    name,
                    *[
                        cell(figures[name].instructions_per_call, baseline if c != "echo" else None)
                        for c, figures in results.items()
                    ],
                ]
            )
        )
    lines.append(row(["idle, per second", *[f"{n / 1e6:,.2f} M" for n in idle.values()]]))
    return "\n".join(lines)


def commit() -> str:
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT
    )
    return described.stdout.strip() or "unknown commit"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=50, help="measured calls per case")
    parser.add_argument("--warm-up", type=int, default=10, help="calls before the counters")
    parser.add_argument(
        "--column",
        choices=list(COLUMNS),
        action="append",
        help="measure only this server (repeatable; default: all three)",
    )
    parser.add_argument(
        "--case",
        type=case_named,
        action="append",
        metavar="CASE",
        help="measure only this case (U1, U2, W1, L1 or C1; repeatable; default: all)",
    )
    parser.add_argument(
        "--top",
        type=case_named,
        action="append",
        default=[],
        metavar="CASE",
        help="print where this case's instructions go (U1, U2, W1, L1 or C1; repeatable)",
    )
    parser.add_argument("--out", type=Path, help="keep the callgrind dumps in this directory")
    args = parser.parse_args()
    # SIGTERM (a timeout, make interrupted) unwinds like an error, so the server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: make callgrind installs it (Debian's valgrind)")
    chosen = args.column or list(COLUMNS)
    chosen_cases = [name for name in cases("") if name in (args.case or cases(""))]
    skipped = {}
    if "postgresql" in chosen:
        unreachable = postgres_reachable()
        if unreachable is not None:
            skipped["PostgreSQL"] = f"PostgreSQL at {POSTGRES_URL}: {unreachable}"
            chosen.remove("postgresql")
    results: dict[str, dict[str, Figure]] = {}
    idle: dict[str, float] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        out = args.out.resolve() if args.out else work
        out.mkdir(parents=True, exist_ok=True)
        for column in chosen:
            print(f"{COLUMNS[column]} under callgrind ...", file=sys.stderr, flush=True)
            with server_for(column, work) as server:
                cg = Callgrind(server, out / f"callgrind.{column}.out")
                results[COLUMNS[column]], idle[COLUMNS[column]] = measure_server(
                    cg, column != "echo", args.calls, args.warm_up, chosen_cases
                )
        for name, reason in skipped.items():
            print(f"{name}: not measured ({reason})")
        print(table(results, idle, args.calls, chosen_cases))
        for name in args.top:
            for column, figures in results.items():
                if name not in figures:
                    continue
                print(f"\n{name}, {column}:")
                print(top(figures[name].dump, args.calls))
    seconds = round(time.perf_counter() - started)
    print(f"{seconds} s")
    RESULTS.write_text(
        json.dumps(
            {
                "commit": commit(),
                "calls": args.calls,
                "warm_up": args.warm_up,
                "seconds": seconds,
                "instructions_per_call": {
                    column: {n: round(f.instructions_per_call) for n, f in figures.items()}
                    for column, figures in results.items()
                },
                "idle_instructions_per_second": {c: round(n) for c, n in idle.items()},
                "skipped": skipped,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
