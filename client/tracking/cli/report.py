"""`tracking report progress|output|result|step|metric|heartbeat`: a job reports on itself.

Each command acts on $TRACKING_EXECUTION_ID, which `tracking run` gives its command, unless
--execution names another execution.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tracking.cli.common import fail, json_or_text, parse_enum, parse_pairs, with_client
from tracking.cli.help import Command, group
from tracking.client import TrackingClient
from tracking.client.current import EXECUTION_ID_VARIABLE, CurrentExecution
from tracking.client.requests import metric_point
from tracking.v1 import status_pb2

report = group(
    help="Report a job's progress, outputs, results, steps and metrics from inside tracking run.",
    no_args_is_help=True,
)

ExecutionOption = Annotated[
    str | None,
    typer.Option(
        "--execution",
        "-e",
        envvar=EXECUTION_ID_VARIABLE,
        help=f"the execution to report on (default: ${EXECUTION_ID_VARIABLE}, set by tracking run)",
        show_default=False,
    ),
]


def _current(client: TrackingClient, execution: str | None) -> CurrentExecution:
    if not execution:
        fail(
            f"no execution to report on: {EXECUTION_ID_VARIABLE} is not set (`tracking run`"
            " sets it for its command); give --execution ID",
            2,
        )
    return CurrentExecution(client, execution)


@report.command("progress", cls=Command)
@with_client
def progress(
    client: TrackingClient,
    fraction: Annotated[
        float,
        typer.Argument(
            help="how far the job is, from 0 to 1", min=0.0, max=1.0, show_default=False
        ),
    ],
    phase: Annotated[
        str | None, typer.Option(help="what the job is doing now", show_default=False)
    ] = None,
    execution: ExecutionOption = None,
) -> None:
    """Report progress (0 to 1) and, with --phase, what the job is doing."""
    _current(client, execution).progress(fraction, phase or "")


@report.command("output", cls=Command)
@with_client
def output(
    client: TrackingClient,
    name: Annotated[str, typer.Argument(help="name of the output", show_default=False)],
    value: Annotated[
        str, typer.Argument(help="its value: JSON, or else a string", show_default=False)
    ],
    data_type: Annotated[
        str | None,
        typer.Option("--type", help="data type of the output (free text)", show_default=False),
    ] = None,
    execution: ExecutionOption = None,
) -> None:
    """Record an output, replacing the output of the same name."""
    _current(client, execution).output(name, json_or_text(value), data_type or "")


@report.command("result", cls=Command)
@with_client
def result(
    client: TrackingClient,
    file: Annotated[
        Path | None,
        typer.Argument(help="a JSON object (- reads standard input)", show_default=False),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="key=value (JSON, or else a string); repeat for several",
            show_default=False,
        ),
    ] = None,
    execution: ExecutionOption = None,
) -> None:
    """Replace the execution's result with FILE's JSON object and the --set pairs."""
    values: dict[str, Any] = _read_object(file) if file is not None else {}
    values.update({k: json_or_text(v) for k, v in parse_pairs(set_, "--set").items()})
    if file is None and not set_:
        fail("give a JSON file (or -) or --set key=value", 2)
    _current(client, execution).result(values)


@report.command("step", cls=Command)
@with_client
def step(
    client: TrackingClient,
    name: Annotated[str, typer.Argument(help="name of the step", show_default=False)],
    status: Annotated[
        str,
        typer.Option(help="waiting, running, success, error, canceled, ...", show_default=False),
    ],
    execution: ExecutionOption = None,
) -> None:
    """Add a step with its status, or change the status of the step of that name."""
    number = parse_enum(status_pb2.RunningStatus, status, "--status")
    _current(client, execution).step(name, number)


@report.command("metric", cls=Command)
@with_client
def metric(
    client: TrackingClient,
    name: Annotated[str, typer.Argument(help="name of the series", show_default=False)],
    value: Annotated[
        float, typer.Argument(help="the value (nan and inf are kept)", show_default=False)
    ],
    step: Annotated[
        int | None,
        typer.Option(
            help="its step (default: one more than the series' largest)",
            min=0,
            show_default=False,
        ),
    ] = None,
    execution: ExecutionOption = None,
) -> None:
    """Record one point of a metric series (loss, accuracy, ...), now."""
    current = _current(client, execution)
    client.log_metrics(current.execution_id, [metric_point(name, value, step)])


@report.command("heartbeat", cls=Command)
@with_client
def heartbeat(client: TrackingClient, execution: ExecutionOption = None) -> None:
    """Tell the server the job is alive (tracking run already does, by itself)."""
    _current(client, execution).heartbeat()


def _read_object(file: Path) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror or error}", 2)
    try:
        values = json.loads(text)
    except ValueError as error:
        fail(f"{file} is not JSON: {error}", 2)
    if not isinstance(values, dict):
        fail(f"{file} must hold a JSON object, not {type(values).__name__}", 2)
    return values
