"""`tracking logs EXECUTION [-f]` and `tracking logs --deployment NAME [-f]`: print log lines,
following them if asked."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from tracking.cli.common import (
    Connection,
    Output,
    OutputOption,
    TimeoutOption,
    fail,
    parse_enum,
    parse_since,
    timeout_exit,
    with_connection,
)
from tracking.cli.prefix import ExecutionPrefix, colour_wanted
from tracking.cli.reach import DEFAULT_CONNECT_TIMEOUT, ConnectTimeoutOption, follower
from tracking.cli.render import as_json_line
from tracking.client import TrackingClient
from tracking.v1 import execution_pb2

# Marks the lines a job wrote on stderr, as pytest marks error lines.
STDERR_MARK = "E "


@with_connection
def logs(
    connection: Connection,
    execution_id: Annotated[
        str | None, typer.Argument(help="id of the execution", show_default=False)
    ] = None,
    deployment: Annotated[
        str | None,
        typer.Option(
            "--deployment",
            "-d",
            help="every execution of this deployment, each line prefixed with its execution id",
            show_default=False,
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="keep printing new lines until the job ends (with --deployment: until the "
            "deployment is deleted); rides out server restarts",
        ),
    ] = False,
    grep: Annotated[
        str | None,
        typer.Option(
            "--grep",
            "-g",
            help="only lines matching this regular expression (RE2 syntax, on the server)",
            show_default=False,
        ),
    ] = None,
    contains: Annotated[
        str | None,
        typer.Option(help="only lines containing this text (case-sensitive)", show_default=False),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="only lines since: a duration (30s, 10m, 2h) or an RFC 3339 time"),
    ] = None,
    tail: Annotated[
        int | None,
        typer.Option(
            help="start with the last N lines (of each execution); 0: none, with --follow only "
            "new ones (one execution); default: all",
            min=0,
            show_default=False,
        ),
    ] = None,
    stream: Annotated[str | None, typer.Option(help="stdout or stderr; default both")] = None,
    timestamps: Annotated[
        bool, typer.Option("--timestamps", "-t", help="prefix each line with its time")
    ] = False,
    timeout: TimeoutOption = None,
    connect_timeout: ConnectTimeoutOption = DEFAULT_CONNECT_TIMEOUT,
    output: OutputOption = Output.TABLE,
) -> None:
    """Print the log lines of an execution (or a deployment), oldest first.

    Like kubectl logs; with --deployment, every execution's lines, each prefixed with its
    id. Lines the job wrote on stderr start with `E ` (red on a terminal). With --follow,
    once connected, rides out server restarts (saying so on stderr). Exit code: 0 once
    everything was printed; 1 on a refusal or when the server could not be reached (within
    --connect-timeout with --follow); 124 after --timeout.
    """
    if bool(execution_id) == bool(deployment):
        fail("name an execution or a --deployment (one of them)", 2)
    if tail == 0 and deployment and follow:
        fail("--tail 0 --follow takes one execution; for a deployment, --since 0s", 2)
    colour = colour_wanted()
    prefix = ExecutionPrefix(colour) if deployment else None
    stderr_mark = typer.style("E", fg="red") + " " if colour else STDERR_MARK
    connected = follower(connection, connect_timeout) if follow else connection.client()
    with connected as client, timeout_exit(timeout):
        after_seq = 0
        if tail == 0:  # no earlier line: start after the last one (of what must exist)
            if execution_id:
                after_seq = _last_seq(client, execution_id)
            else:
                client.get_deployment(deployment or "")
            if not follow:
                return
        lines = client.follow_logs(
            execution_id or "",
            deployment_name=deployment or "",
            after_seq=after_seq,
            since=parse_since(since),
            tail=tail or 0,
            stream=parse_enum(execution_pb2.LogStream, stream, "--stream") if stream else 0,
            follow=follow,
            contains=contains or "",
            pattern=grep or "",
            timeout=timeout,
        )
        for entry in lines:
            if output is Output.JSON:
                typer.echo(as_json_line(entry))
                continue
            text = entry.message
            if entry.stream == execution_pb2.LOG_STREAM_STDERR:
                text = stderr_mark + text
            if timestamps:
                text = f"{_rfc3339(entry)} {text}"
            typer.echo(f"{prefix(entry.execution_id)} {text}" if prefix else text)


def _last_seq(client: TrackingClient, execution_id: str) -> int:
    last = 0
    for response in client.stream_logs(execution_id, tail=1):
        last = max([last, *(entry.seq for entry in response.entries)])
    return last


def _rfc3339(entry: execution_pb2.LogEntry) -> str:
    moment = entry.timestamp.ToDatetime(tzinfo=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
