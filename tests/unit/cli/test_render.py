"""How the command line shows times and enum values to people."""

from __future__ import annotations

import datetime as dt
import shlex
import subprocess

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from tracking.cli.render import SHORT_NAMES, age, run_time, shell_join, span
from tracking.v1 import status_pb2


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (42.9, "42s"),
        (310, "5m10s"),
        (600, "10m"),
        (1859, "30m"),
        (11_040, "3h4m"),
        (36_000 + 120, "10h"),
        (2 * 86_400 + 5 * 3600, "2d5h"),
        (12 * 86_400 + 3600, "12d"),
    ],
)
def test_a_span_reads_at_a_glance(seconds: float, shown: str) -> None:
    assert span(seconds) == shown


def test_age_and_run_time() -> None:
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    created = Timestamp()
    created.FromDatetime(now - dt.timedelta(minutes=5, seconds=10))
    assert age(created, now) == "5m10s"
    assert age(Timestamp(), now) == "-"
    waiting = status_pb2.JobStatus()
    assert run_time(waiting) == "-"
    ran = status_pb2.JobStatus()
    ran.start_time.FromDatetime(now)
    ran.duration.FromSeconds(95)
    assert run_time(ran) == "1m35s"


def test_enum_values_have_the_short_names_lists_show() -> None:
    assert SHORT_NAMES["RUNNING_STATUS_CANCELED"] == "CANCELED"
    assert SHORT_NAMES["EXECUTION_RULE_PERIODIC"] == "PERIODIC"
    assert SHORT_NAMES["JOB_TYPE_UNSPECIFIED"] == "-"  # unset


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["python", "train.py", "--epochs", "10"], "python train.py --epochs 10"),
        (["echo", "two words", ""], "echo 'two words' ''"),
        (
            ["python", "-c", "print(f'step {i}')"],
            "python -c \"print(f'step {i}')\"",
        ),
        (["sh", "-c", "echo '$HOME'"], "sh -c 'echo '\"'\"'$HOME'\"'\"''"),
    ],
)
def test_a_command_is_shown_as_a_person_would_type_it(argv: list[str], shown: str) -> None:
    assert shell_join(argv) == shown


def test_a_shown_command_is_read_back_by_a_shell_as_the_same_argv() -> None:
    argv = ["a b", "it's", 'say "hi"', "$HOME", "`x`", "back\\slash", "wow!", "tab\there", ""]
    printed = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {shell_join(argv)}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed.split("\0")[:-1] == argv


@given(st.lists(st.text(alphabet=st.characters(exclude_characters="\0")), max_size=5))
def test_any_command_splits_back_into_its_argv(argv: list[str]) -> None:
    assert shlex.split(shell_join(argv)) == argv
