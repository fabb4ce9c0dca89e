"""`tracking watch EXECUTION`: follow one execution until it ends; the exit code says how.
`tracking watch --deployment NAME`: every change of a deployment's executions."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskProgressColumn, TextColumn
from rich.text import Text

from tracking.cli.common import (
    Connection,
    Output,
    OutputOption,
    TimeoutOption,
    fail,
    timeout_exit,
    with_connection,
)
from tracking.cli.prefix import ExecutionPrefix, colour_wanted
from tracking.cli.reach import DEFAULT_CONNECT_TIMEOUT, ConnectTimeoutOption, follower
from tracking.cli.render import as_json_line, percent, status_name
from tracking.client import TrackingClient
from tracking.v1 import execution_pb2, status_pb2

S = status_pb2
EXIT_CODES = {
    S.RUNNING_STATUS_SUCCESS: 0,
    S.RUNNING_STATUS_ERROR: 3,
    S.RUNNING_STATUS_CANCELED: 4,
}


@with_connection
def watch(
    connection: Connection,
    execution_id: Annotated[
        str | None, typer.Argument(help="id of the execution", show_default=False)
    ] = None,
    deployment: Annotated[
        str | None,
        typer.Option(
            "--deployment",
            "-d",
            help="every execution of this deployment, one line per change, until interrupted",
            show_default=False,
        ),
    ] = None,
    timeout: TimeoutOption = None,
    connect_timeout: ConnectTimeoutOption = DEFAULT_CONNECT_TIMEOUT,
    output: OutputOption = Output.TABLE,
) -> None:
    """Show an execution's status, phase and progress live until it ends.

    With --deployment, every change of the deployment's executions. Once connected, rides
    out server restarts (saying so on stderr). Exit code: 0 SUCCESS, 3 ERROR, 4 CANCELED; 1
    if the watch itself failed or the server could not be reached within --connect-timeout;
    124 after --timeout.
    """
    if bool(execution_id) == bool(deployment):
        fail("name an execution or a --deployment (one of them)", 2)
    with follower(connection, connect_timeout) as client, timeout_exit(timeout):
        if deployment:
            _watch_deployment(client, deployment, timeout, output)
            return
        assert execution_id is not None
        events = client.watch(execution_id=execution_id, timeout=timeout)
        if output is Output.JSON:
            last = _print_each(events, as_json_line)
        elif sys.stdout.isatty():
            last = _progress_bar(events)
        else:
            last = _print_each(events, _line)
    _exit_for(last)


def _watch_deployment(
    client: TrackingClient, deployment: str, timeout: float | None, output: Output
) -> None:
    prefix = ExecutionPrefix(colour_wanted())
    for event in client.watch(deployment_name=deployment, timeout=timeout):
        if output is Output.JSON:
            typer.echo(as_json_line(event))
        elif execution_pb2.CHANGE_KIND_DELETED in event.changes:
            typer.echo(f"{prefix(event.execution_id)} DELETED")
        else:
            typer.echo(f"{prefix(event.execution_id)} {_line(event)}")


def _line(event: execution_pb2.ExecutionEvent) -> str:
    status = event.job_status
    text = f"{status_name(status)} {percent(status.progress)}"
    if status.phase:
        text += f" {status.phase}"
    if status.stop_message:
        text += f": {status.stop_message}"
    return text


def _print_each(
    events: Iterable[execution_pb2.ExecutionEvent],
    render: Callable[[execution_pb2.ExecutionEvent], str],
) -> execution_pb2.ExecutionEvent | None:
    last = None
    shown = None
    for event in events:
        line = render(event)
        if line != shown:  # a change of outputs or steps alone looks the same: say it once
            typer.echo(line)
        shown, last = line, event
    return last


# States whose duration grows while the watch waits for the next event.
TICKING = frozenset({S.RUNNING_STATUS_RUNNING, S.RUNNING_STATUS_CANCEL_REQUESTED})


class JobTime(ProgressColumn):
    """How long the job has run (not how long the watch has): its duration as of the last
    event, counted on from when that event came while it runs; -:--:-- before it started."""

    def render(self, task: Task) -> Text:
        status: status_pb2.JobStatus | None = task.fields.get("status")
        if status is None or not status.HasField("start_time"):
            return Text("-:--:--", style="progress.elapsed")
        seconds = status.duration.ToTimedelta().total_seconds()
        if status.status in TICKING:
            seconds += time.monotonic() - task.fields["received"]
        return Text(str(timedelta(seconds=int(max(seconds, 0)))), style="progress.elapsed")


def _progress_bar(
    events: Iterable[execution_pb2.ExecutionEvent],
) -> execution_pb2.ExecutionEvent | None:
    last = None
    columns = (
        TextColumn("{task.description}"),
        # Named colours: rich's default green for a finished bar reads as grey on a
        # terminal of 16 colours.
        BarColumn(finished_style="green"),
        TaskProgressColumn(),
        JobTime(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("", total=1.0, status=None)
        for event in events:
            status = event.job_status
            description = f"{status_name(status):<16} {status.phase}"
            bar.update(
                task,
                completed=status.progress,
                description=description,
                status=status,
                received=time.monotonic(),
            )
            last = event
    if last is not None and last.job_status.stop_message:
        typer.echo(last.job_status.stop_message)
    return last


def _exit_for(last: execution_pb2.ExecutionEvent | None) -> None:
    if last is None:
        fail("the watch ended before any event")
    if execution_pb2.CHANGE_KIND_DELETED in last.changes:
        fail(f"execution {last.execution_id} was deleted")
    code = EXIT_CODES.get(last.job_status.status)
    if code is None:
        fail(f"the watch ended in {status_name(last.job_status)}")
    raise typer.Exit(code)
