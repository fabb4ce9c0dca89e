"""Pieces of `tracking run` whose failure cases a live server cannot be made to produce on cue:
a batch stored although its call failed, a batch refused for good."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from typing import cast

import grpc
import pytest
import typer

from tracking.cli.common import parse_since
from tracking.cli.runner.child import CONTINUED, describe_exit, shell_exit_code, split_line
from tracking.cli.runner.persist import Deadline
from tracking.cli.runner.runner import MAX_JOB_NAME, default_job_name
from tracking.cli.runner.shipper import LogShipper
from tracking.client import AsyncTrackingClient, InvalidArgument, Unavailable
from tracking.client.errors import from_rpc_error
from tracking.v1 import execution_pb2


class Cancelled(grpc.RpcError):
    """What grpcio raises when a draining replica behind nginx cancels an unanswered call."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.CANCELLED

    def details(self) -> str:
        return "CANCELLED"


class FlakyLogStore:
    """append_logs and get_execution_logs of one execution, with failures on order:
    "lost" fails before storing, "stored" stores then fails (the answer never arrives),
    "cancelled" stores then is cancelled by a server that stops, "refused" is a permanent
    refusal."""

    def __init__(self, *failures: str) -> None:
        self.failures = list(failures)
        self.lines: list[str] = []
        self.calls = 0

    async def append_logs(self, execution_id: str, entries: list[execution_pb2.LogEntry]) -> int:
        self.calls += 1
        failure = self.failures.pop(0) if self.failures else "ok"
        if failure == "lost":
            raise Unavailable("connection refused")
        if failure == "refused":
            raise InvalidArgument("entries[0].message: too long")
        self.lines.extend(entry.message for entry in entries)
        if failure == "stored":
            raise Unavailable("connection reset")
        if failure == "cancelled":
            raise from_rpc_error(Cancelled()) from Cancelled()
        return len(self.lines)

    async def get_execution_logs(
        self, execution_id: str, *, after_seq: int = 0, limit: int = 0
    ) -> list[execution_pb2.LogEntry]:
        after = self.lines[after_seq:]
        return [
            execution_pb2.LogEntry(seq=after_seq + 1 + i, message=m)
            for i, m in enumerate(after[: limit or None])
        ]


async def ship(store: FlakyLogStore, batches: list[list[str]]) -> LogShipper:
    shipper = LogShipper(cast(AsyncTrackingClient, store), "ex", Deadline(), interval=0)
    running = asyncio.create_task(shipper.run())
    for batch in batches:
        for line in batch:
            await shipper.add(execution_pb2.LOG_STREAM_STDOUT, line)
        while shipper.pending:  # noqa: ASYNC110 -- one batch at a time; polling is enough here
            await asyncio.sleep(0.01)
    shipper.close()
    await running
    return shipper


async def test_a_batch_stored_by_a_call_that_failed_is_not_sent_again() -> None:
    store = FlakyLogStore("stored")
    shipper = await ship(store, [["a", "b"], ["c"]])
    assert store.lines == ["a", "b", "c"]
    assert (shipper.last_seq, shipper.sent, shipper.refused) == (3, 3, [])


async def test_a_batch_a_stopping_server_cancelled_is_checked_and_not_lost() -> None:
    store = FlakyLogStore("cancelled")
    shipper = await ship(store, [["a", "b"], ["c"]])
    assert store.lines == ["a", "b", "c"]
    assert (shipper.last_seq, shipper.sent, shipper.refused) == (3, 3, [])


async def test_a_batch_lost_on_the_way_is_sent_again() -> None:
    store = FlakyLogStore("lost", "lost")
    shipper = await ship(store, [["a", "b"], ["c"]])
    assert store.lines == ["a", "b", "c"]
    assert store.calls == 4
    assert shipper.last_seq == 3


async def test_a_refused_batch_is_reported_and_the_next_ones_still_go() -> None:
    store = FlakyLogStore("refused")
    shipper = await ship(store, [["a"], ["b"]])
    assert store.lines == ["b"]
    assert shipper.refused == ["1 lines: INVALID_ARGUMENT: entries[0].message: too long"]


def test_since_takes_durations_and_times() -> None:
    now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    assert parse_since("90s", now) == now - dt.timedelta(seconds=90)
    assert parse_since("10m", now) == now - dt.timedelta(minutes=10)
    assert parse_since("2h", now) == now - dt.timedelta(hours=2)
    assert parse_since("1d", now) == now - dt.timedelta(days=1)
    assert parse_since("2026-11-20T08:00:00Z") == dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)
    assert parse_since("2026-11-20T08:00:00") == dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)
    assert parse_since(None) is None
    with pytest.raises(typer.Exit):
        parse_since("yesterday")


@pytest.mark.parametrize(
    ("returncode", "text", "shell"),
    [(0, "exit code 0", 0), (3, "exit code 3", 3), (-signal.SIGKILL, "killed by SIGKILL", 137)],
)
def test_exit_descriptions(returncode: int, text: str, shell: int) -> None:
    assert (describe_exit(returncode), shell_exit_code(returncode)) == (text, shell)


def test_a_deadline_only_moves_earlier() -> None:
    deadline = Deadline()
    assert not deadline.passed()
    deadline.give_up_in(0)
    deadline.give_up_in(300)
    assert deadline.passed()


def test_a_long_line_is_cut_into_marked_pieces_that_fit() -> None:
    assert split_line("abcdef", 6) == ["abcdef"]
    assert split_line("", 6) == [""]
    pieces = split_line("abcdefghijklm", 6)
    assert pieces == ["abcd" + CONTINUED, "efgh" + CONTINUED, "ijklm"]
    assert all(len(piece) <= 6 for piece in pieces)
    # A limit with no room for the marker still cuts, without it.
    assert split_line("abcde", 2) == ["ab", "cd", "e"]


def test_the_default_job_name_is_the_command_as_a_person_types_it() -> None:
    assert default_job_name(["python", "train.py", "--epochs", "10"]) == (
        "python train.py --epochs 10"
    )
    script = "for i in range(3):\n    print(f'step {i}')\n"
    assert default_job_name(["python", "-c", script]) == (
        "python -c \"for i in range(3): print(f'step {i}')\""
    )
    assert default_job_name(["echo", 'say "hi"', ""]) == 'echo \'say "hi"\' ""'
    long = default_job_name(["echo", "x" * 500])
    assert len(long) == MAX_JOB_NAME
    assert long == "echo " + "x" * (MAX_JOB_NAME - 6) + "…"
