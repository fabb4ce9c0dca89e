"""`tracking run -- COMMAND...`: run any command as the job of a new execution."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from tracking.cli.common import (
    Connection,
    DeploymentOption,
    ExecutionIdOption,
    LabelsOption,
    PipelineOption,
    fail,
    parse_pairs,
    with_connection,
)
from tracking.cli.runner.runner import Runner, RunOptions


@with_connection
def run(
    connection: Connection,
    command: Annotated[
        list[str],
        typer.Argument(help="the command and its arguments, after --", show_default=False),
    ],
    deployment: DeploymentOption = None,
    pipeline: PipelineOption = None,
    execution_id: ExecutionIdOption = None,
    job_name: Annotated[
        str | None,
        typer.Option(help="human name of the job (default: the command line)", show_default=False),
    ] = None,
    label: LabelsOption = None,
    grace_period: Annotated[
        float,
        typer.Option(
            help="seconds between SIGTERM and SIGKILL when the execution is canceled", min=0
        ),
    ] = 10.0,
    retry_for: Annotated[
        float,
        typer.Option(
            help="once the command has ended, seconds to keep trying to reach the server", min=0
        ),
    ] = 300.0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="do not copy the command's output here")
    ] = False,
    heartbeat_timeout: Annotated[
        float | None,
        typer.Option(
            help="seconds without a heartbeat before the server marks the job UNKNOWN"
            " (0: never; default: the server's)",
            min=0,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create an execution and run COMMAND as its job.

    Reports RUNNING, sends stdout and stderr as log lines, and ends the execution as SUCCESS
    or ERROR with the exit code (in its phase, or its stop message). Cancelling the execution
    (or SIGINT / SIGTERM to this command) stops COMMAND: SIGTERM, then SIGKILL after --grace-period; the
    execution ends as CANCELED. While the server cannot be reached, output is kept and sent
    later. Exits with COMMAND's exit code (128 + N when signal N killed it; 127 when it does
    not exist).

    Heartbeats keep the execution's lease while COMMAND runs: if this process dies, the
    server marks the job UNKNOWN once the heartbeat timeout has passed. COMMAND gets
    TRACKING_EXECUTION_ID and TRACKING_ADDRESS (and the token and TLS settings given here),
    so that it can report progress, outputs and results itself: `tracking report`, or
    tracking.client.current_execution() in Python. It also gets TRACEPARENT, the execution's
    W3C trace context (the one this command was started with, or the server's span of the
    creation when the server exports traces), which the tracking client sends with its calls. The command line is recorded on the
    execution and is its default job name.
    """
    if not deployment and not pipeline:
        fail("give --deployment NAME, or --pipeline NAME for a standalone execution", 2)
    options = RunOptions(
        command=command,
        deployment_name=deployment or "",
        pipeline_name=pipeline or "",
        execution_id=execution_id or "",
        job_name=job_name or "",
        labels=parse_pairs(label, "--label"),
        grace_seconds=grace_period,
        retry_seconds=retry_for,
        echo=not quiet,
        heartbeat_timeout=heartbeat_timeout,
        connection_environment=connection.environment(),
    )
    raise typer.Exit(asyncio.run(_run(connection, options)))


async def _run(connection: Connection, options: RunOptions) -> int:
    async with connection.async_client() as client:
        return await Runner(client, options).run()
