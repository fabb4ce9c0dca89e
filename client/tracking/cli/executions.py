"""`tracking executions create|list|get|cancel|delete`."""

from __future__ import annotations

from typing import Annotated

import typer
from google.protobuf import struct_pb2

from tracking.cli.common import (
    DeploymentOption,
    ExecutionIdOption,
    JobNameOption,
    LabelsOption,
    Output,
    OutputOption,
    PipelineOption,
    first,
    json_or_text,
    parse_enum,
    parse_pairs,
    with_client,
)
from tracking.cli.help import Command, group
from tracking.cli.render import EXECUTION_COLUMNS, short_enum, show_many, show_one, status_name
from tracking.client import TrackingClient
from tracking.v1 import execution_pb2, io_pb2, status_pb2

executions = group(help="Create, list, show, cancel and delete executions.", no_args_is_help=True)

IdArgument = Annotated[str, typer.Argument(help="id of the execution", show_default=False)]


@executions.command("create", cls=Command)
@with_client
def create(
    client: TrackingClient,
    deployment: DeploymentOption = None,
    pipeline: PipelineOption = None,
    execution_id: ExecutionIdOption = None,
    job_name: JobNameOption = None,
    job_type: Annotated[
        str | None, typer.Option(help="train, inference or train-inference", show_default=False)
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option(help="experiment (data set and task) the job belongs to", show_default=False),
    ] = None,
    model_run_id: Annotated[
        str | None,
        typer.Option(help="the model the job trains or uses", show_default=False),
    ] = None,
    label: LabelsOption = None,
    input: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            help="name=value (JSON, or else a string); repeat for several",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = Output.TABLE,
) -> None:
    """Create an execution, in WAITING."""
    created = client.create_execution(
        deployment_name=deployment or "",
        pipeline_name=pipeline or "",
        execution_id=execution_id or "",
        job_name=job_name or "",
        job_type=parse_enum(execution_pb2.JobType, job_type, "--job-type") if job_type else 0,
        experiment_name=experiment or "",
        model_run_id=model_run_id or "",
        labels=parse_pairs(label, "--label"),
        inputs=[_input(name, value) for name, value in parse_pairs(input, "--input").items()],
    )
    show_one(created, output)


@executions.command("list", cls=Command)
@with_client
def list_(
    client: TrackingClient,
    deployment: DeploymentOption = None,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", "-s", help="e.g. running; repeat for several", show_default=False),
    ] = None,
    filter: Annotated[
        str,
        typer.Option(help='more conditions, e.g. labels.team = "ml" AND job_type = TRAIN'),
    ] = "",
    limit: Annotated[int, typer.Option(help="at most this many; 0: all", min=0)] = 100,
    output: OutputOption = Output.TABLE,
) -> None:
    """List executions, newest first."""
    conditions = [filter] if filter else []
    if deployment:
        conditions.append(f"deployment_name = {quote(deployment)}")
    if status:
        names = [
            short_enum(
                status_pb2.RunningStatus, parse_enum(status_pb2.RunningStatus, s, "--status")
            )
            for s in status
        ]
        conditions.append(f"status IN ({', '.join(names)})")
    found = client.list_executions(filter=" AND ".join(conditions))
    show_many(first(found, limit), EXECUTION_COLUMNS, output)


@executions.command("get", cls=Command)
@with_client
def get(
    client: TrackingClient, execution_id: IdArgument, output: OutputOption = Output.TABLE
) -> None:
    """Show one execution: status, steps, inputs, outputs."""
    show_one(client.get_execution(execution_id), output)


@executions.command("cancel", cls=Command)
@with_client
def cancel(
    client: TrackingClient,
    execution_id: IdArgument,
    reason: Annotated[str, typer.Option(help="why; shown to the worker and kept")] = "",
) -> None:
    """Cancel: WAITING and SUSPENDED end at once, a running job is asked to stop."""
    status = client.cancel_execution(execution_id, reason=reason)
    typer.echo(f"{execution_id}: {status_name(status)}")


@executions.command("delete", cls=Command)
@with_client
def delete(client: TrackingClient, execution_id: IdArgument) -> None:
    """Delete an execution and its logs."""
    client.delete_execution(execution_id)
    typer.echo(f"deleted execution {execution_id}")


def quote(value: str) -> str:
    """A string literal of the filter language."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _input(name: str, text: str) -> io_pb2.ExecutionInput:
    struct = struct_pb2.Struct()
    struct.update({"v": json_or_text(text)})
    return io_pb2.ExecutionInput(name=name, value=struct.fields["v"])
