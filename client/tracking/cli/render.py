"""How commands show what the server returned: tables and detail views for people, JSON for
scripts (the proto JSON mapping, field names as in the .proto)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import typer
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from tracking.cli.common import Output
from tracking.client.convert import message_to_dict
from tracking.client.enum_names import prefix_of, short_name
from tracking.v1 import deployment_pb2, execution_pb2, io_pb2, status_pb2

M = TypeVar("M", bound=Message)
T = TypeVar("T")


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def as_dict(message: Message) -> dict[str, Any]:
    return message_to_dict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def as_json_line(message: Message) -> str:
    return json.dumps(as_dict(message), sort_keys=True)


def short_enum(enum_type: Any, number: int) -> str:
    """RUNNING_STATUS_RUNNING -> RUNNING: the name people read."""
    return short_name(enum_type.DESCRIPTOR, number) if number else "-"


def _short_names() -> dict[str, str]:
    """Every enum value's proto name -> the name people read ("-" for an unset one), for
    every enum of the contract."""
    names: dict[str, str] = {}
    for module in (deployment_pb2, execution_pb2, io_pb2, status_pb2):
        for enum in module.DESCRIPTOR.enum_types_by_name.values():
            prefix = prefix_of(enum)
            names.update(
                {v.name: v.name.removeprefix(prefix) if v.number else "-" for v in enum.values}
            )
    return names


SHORT_NAMES = _short_names()


def when(ts: timestamp_pb2.Timestamp) -> str:
    if not ts.seconds and not ts.nanos:
        return "-"
    return ts.ToDatetime(tzinfo=dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def span(seconds: float) -> str:
    """A length of time as people read it at a glance (kubectl's style): 42s, 5m10s, 3h4m, 2d5h."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs}s" if secs and minutes < 10 else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes}m" if minutes and hours < 10 else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours and days < 10 else f"{days}d"


def age(ts: timestamp_pb2.Timestamp, now: dt.datetime | None = None) -> str:
    if not ts.seconds and not ts.nanos:
        return "-"
    moment = now or dt.datetime.now(dt.UTC)
    return span(max(0.0, (moment - ts.ToDatetime(tzinfo=dt.UTC)).total_seconds()))


def run_time(status: status_pb2.JobStatus) -> str:
    """How long the job has run (or ran); "-" before its start."""
    if not status.HasField("start_time"):
        return "-"
    return span(status.duration.ToTimedelta().total_seconds())


def status_name(status: status_pb2.JobStatus) -> str:
    return short_enum(status_pb2.RunningStatus, status.status)


def percent(progress: float) -> str:
    return f"{progress:.0%}"


Column = tuple[str, Callable[[M], str]]

DEPLOYMENT_COLUMNS: Sequence[Column[deployment_pb2.Deployment]] = (
    ("NAME", lambda d: d.name),
    ("PIPELINE", lambda d: d.pipeline_name),
    ("RULE", lambda d: short_enum(deployment_pb2.ExecutionRule, d.execution_rule)),
    ("SCHEDULE", lambda d: d.schedule or "-"),
    ("ENABLED", lambda d: "yes" if d.is_enabled else "no"),
    ("STATUS", lambda d: short_enum(deployment_pb2.DeploymentStatus, d.status)),
    ("LAST EXECUTION", lambda d: d.last_execution_id or "-"),
    ("CREATED", lambda d: when(d.create_time)),
)

EXECUTION_COLUMNS: Sequence[Column[execution_pb2.Execution]] = (
    ("ID", lambda e: e.execution_id),
    ("JOB", lambda e: e.job_name or "-"),
    ("DEPLOYMENT", lambda e: e.deployment_name or "-"),
    ("PIPELINE", lambda e: e.pipeline_name or "-"),
    ("STATUS", lambda e: status_name(e.job_status)),
    ("PROGRESS", lambda e: percent(e.job_status.progress)),
    ("PHASE", lambda e: e.job_status.phase or "-"),
    ("AGE", lambda e: age(e.job_status.create_time)),
    ("DURATION", lambda e: run_time(e.job_status)),
)


def show_many(items: Iterable[M], columns: Sequence[Column[M]], output: Output) -> None:
    """Aligned columns (never cut, like kubectl get), or (json) one array of the messages."""
    if output is Output.JSON:
        print_json([as_dict(item) for item in items])
        return
    show_table(items, columns)


def show_table(items: Iterable[T], columns: Sequence[tuple[str, Callable[[T], str]]]) -> None:
    """Aligned columns, a title row first."""
    rows = [[title for title, _ in columns]]
    rows.extend([cell(item) for _, cell in columns] for item in items)
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    for row in rows:
        typer.echo(
            "   ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
        )


def show_one(message: Message, output: Output) -> None:
    """Every set field, as `name: value` lines for people (nested fields dotted), or JSON."""
    if output is Output.JSON:
        print_json(as_dict(message))
        return
    for key, value in _flatten(as_dict(message)):
        shown = SHORT_NAMES.get(value, value) if isinstance(value, str) else value
        typer.echo(f"{key}: {shown}")


def _flatten(values: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in values.items():
        if isinstance(value, dict) and value and key not in ("labels", "result"):
            yield from _flatten(value, f"{prefix}{key}.")
        elif key == "command" and value:
            yield prefix + key, shell_join(value)  # the exact argv, as a shell takes it
        elif value not in ({}, [], ""):
            yield prefix + key, json.dumps(value) if isinstance(value, dict | list) else value


# Characters a POSIX shell reads as a plain word, and those it still expands in double quotes
# (history expansion included, for an interactive bash).
_PLAIN_WORD = re.compile(r"[\w@%+=:,./-]+", re.ASCII)
_SPECIAL_IN_DOUBLE_QUOTES = frozenset('"$`\\!')


def shell_word(word: str) -> str:
    """`word` as a person would type it for a shell to read it back exactly: bare when it
    can be, else in single quotes, else (it holds a single quote) in double quotes when
    nothing in it is special there, else as shlex.quote writes it."""
    if _PLAIN_WORD.fullmatch(word):
        return word
    if "'" not in word:
        return f"'{word}'"
    if not _SPECIAL_IN_DOUBLE_QUOTES.intersection(word):
        return f'"{word}"'
    return shlex.quote(word)


def shell_join(argv: Iterable[str]) -> str:
    """An argv as one command line a POSIX shell splits back into exactly that argv."""
    return " ".join(shell_word(word) for word in argv)
