"""`tracking logs EXECUTION [-f]`: print an execution's log lines, following them if asked."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from tracking.cli.common import Output, OutputOption, parse_enum, parse_since, with_client
from tracking.cli.render import as_json_line
from tracking.client import TrackingClient
from tracking.v1 import execution_pb2


@with_client
def logs(
    client: TrackingClient,
    execution_id: Annotated[str, typer.Argument(help="id of the execution", show_default=False)],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep printing new lines until the job ends")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(help="only lines since: a duration (30s, 10m, 2h) or an RFC 3339 time"),
    ] = None,
    tail: Annotated[int, typer.Option(help="start with the last N lines; 0: all", min=0)] = 0,
    stream: Annotated[str | None, typer.Option(help="stdout or stderr; default both")] = None,
    timestamps: Annotated[
        bool, typer.Option("--timestamps", "-t", help="prefix each line with its time")
    ] = False,
    output: OutputOption = Output.TABLE,
) -> None:
    """Print the log lines of an execution, oldest first (like kubectl logs)."""
    lines = client.follow_logs(
        execution_id,
        since=parse_since(since),
        tail=tail,
        stream=parse_enum(execution_pb2.LogStream, stream, "--stream") if stream else 0,
        follow=follow,
    )
    for entry in lines:
        if output is Output.JSON:
            typer.echo(as_json_line(entry))
        elif timestamps:
            typer.echo(f"{_rfc3339(entry)} {entry.message}")
        else:
            typer.echo(entry.message)


def _rfc3339(entry: execution_pb2.LogEntry) -> str:
    moment = entry.timestamp.ToDatetime(tzinfo=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
