"""`tracking metrics EXECUTION [NAME] [-f]`: each series of an execution with its last, min
and max and a sparkline; or one series' points, following new ones if asked."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Annotated

import typer

from tracking.cli.common import (
    Connection,
    Output,
    OutputOption,
    TimeoutOption,
    timeout_exit,
    with_connection,
)
from tracking.cli.reach import DEFAULT_CONNECT_TIMEOUT, ConnectTimeoutOption, follower
from tracking.cli.render import Column, as_json_line, show_many
from tracking.client import TrackingClient
from tracking.v1 import metric_pb2

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24


def sparkline(values: Sequence[float]) -> str:
    """One block per value, from its lowest to its highest; a space for NaN and ±inf."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return " " * len(values)
    low, high = min(finite), max(finite)
    scale = (len(SPARK) - 1) / (high - low) if high > low else 0.0
    return "".join(SPARK[round((v - low) * scale)] if math.isfinite(v) else " " for v in values)


def number(value: float) -> str:
    return f"{value:.6g}"


def _shapes(client: TrackingClient, execution_id: str, names: Iterable[str]) -> dict[str, str]:
    """A sparkline per series: the last value of each of up to SPARK_WIDTH buckets."""
    shapes: dict[str, str] = {}
    for name in names:
        (history,) = client.get_metric_history(execution_id, name, max_points=SPARK_WIDTH).histories
        values = [b.last_value for b in history.buckets] or [p.value for p in history.points]
        shapes[name] = sparkline(values)
    return shapes


@with_connection
def metrics(
    connection: Connection,
    execution_id: Annotated[str, typer.Argument(help="id of the execution", show_default=False)],
    name: Annotated[
        str | None,
        typer.Argument(help="one series: print its points (step, value)", show_default=False),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="with NAME: keep printing new points until the job ends; rides out server "
            "restarts",
        ),
    ] = False,
    timeout: TimeoutOption = None,
    connect_timeout: ConnectTimeoutOption = DEFAULT_CONNECT_TIMEOUT,
    output: OutputOption = Output.TABLE,
) -> None:
    """Print the metric series of an execution: points, steps, last, min, max and a
    sparkline; with NAME, that series' points as `step value` lines, oldest first.

    Exit code: 0 once everything was printed; 1 on a refusal or when the server could not be
    reached (within --connect-timeout with --follow); 124 after --timeout.
    """
    if follow and not name:
        typer.echo("error: --follow needs a NAME to follow", err=True)
        raise typer.Exit(2)
    connected = follower(connection, connect_timeout) if follow else connection.client()
    with connected as client, timeout_exit(timeout):
        if name is None:
            listed = client.list_metrics(execution_id).series
            shapes = _shapes(client, execution_id, [s.name for s in listed])
            columns: Sequence[Column[metric_pb2.MetricSeries]] = (
                ("NAME", lambda s: s.name),
                ("POINTS", lambda s: str(s.count)),
                ("STEPS", lambda s: f"{s.first_step}-{s.last_step}"),
                ("LAST", lambda s: number(s.last_value)),
                ("MIN", lambda s: number(s.min_value)),
                ("MAX", lambda s: number(s.max_value)),
                ("SHAPE", lambda s: shapes[s.name]),
            )
            show_many(listed, columns, output)
            return
        points = client.follow_metrics(execution_id, names=[name], follow=follow, timeout=timeout)
        for point in points:
            typer.echo(as_json_line(point) if output is Output.JSON else _line(point))


def _line(point: metric_pb2.MetricPoint) -> str:
    return f"{point.step} {number(point.value)}"
