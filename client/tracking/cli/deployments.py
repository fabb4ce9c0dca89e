"""`tracking deployments create|list|get|update|delete`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tracking.cli.common import (
    LabelsOption,
    Output,
    OutputOption,
    fail,
    first,
    parse_enum,
    parse_pairs,
    with_client,
)
from tracking.cli.executions import quote
from tracking.cli.help import Command, group
from tracking.cli.render import DEPLOYMENT_COLUMNS, show_many, show_one
from tracking.client import AlreadyExists, TrackingClient
from tracking.client.requests import DeploymentFields, DeploymentUpdate
from tracking.v1 import deployment_pb2

deployments = group(help="Create, list, show, change and delete deployments.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="name of the deployment", show_default=False)]
DescriptionOption = Annotated[str | None, typer.Option(help="free text", show_default=False)]
ScheduleOption = Annotated[
    str | None,
    typer.Option(help="cron expression of a periodic deployment", show_default=False),
]
ModeOption = Annotated[str | None, typer.Option(help="elastic or low-latency", show_default=False)]


@deployments.command("create", cls=Command)
@with_client
def create(
    client: TrackingClient,
    name: NameArgument,
    pipeline: Annotated[str, typer.Option(help="pipeline it runs", show_default=False)],
    rule: Annotated[str, typer.Option(help="endpoint or periodic")] = "endpoint",
    schedule: ScheduleOption = None,
    description: DescriptionOption = None,
    mode: ModeOption = None,
    label: LabelsOption = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="create it disabled")] = False,
    exist_ok: Annotated[
        bool,
        typer.Option(
            "--exist-ok",
            help="a deployment of this name already there is no error: it is shown as it is",
        ),
    ] = False,
    output: OutputOption = Output.TABLE,
) -> None:
    """Create a deployment."""
    fields: DeploymentFields = {"is_enabled": not disabled}
    _set_fields(fields, description=description, schedule=schedule, mode=mode, label=label)
    rule_value = parse_enum(deployment_pb2.ExecutionRule, rule, "--rule")
    try:
        created = client.create_deployment(name, pipeline, rule_value, **fields)
    except AlreadyExists:
        if not exist_ok:
            raise
        created = client.get_deployment(name)
    show_one(created, output)


@deployments.command("list", cls=Command)
@with_client
def list_(
    client: TrackingClient,
    filter: Annotated[
        str,
        typer.Option(help='e.g. execution_rule = PERIODIC AND labels.team = "ml"'),
    ] = "",
    limit: Annotated[int, typer.Option(help="at most this many; 0: all", min=0)] = 0,
    output: OutputOption = Output.TABLE,
) -> None:
    """List deployments in name order."""
    found = client.list_deployments(filter=filter)
    show_many(first(found, limit), DEPLOYMENT_COLUMNS, output)


@deployments.command("get", cls=Command)
@with_client
def get(client: TrackingClient, name: NameArgument, output: OutputOption = Output.TABLE) -> None:
    """Show one deployment."""
    show_one(client.get_deployment(name), output)


@deployments.command("update", cls=Command)
@with_client
def update(
    client: TrackingClient,
    name: NameArgument,
    pipeline: Annotated[
        str | None, typer.Option(help="pipeline the deployment runs", show_default=False)
    ] = None,
    schedule: ScheduleOption = None,
    description: DescriptionOption = None,
    mode: ModeOption = None,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", "-l", help="key=value; replaces every label", show_default=False),
    ] = None,
    enabled: Annotated[
        bool | None,
        typer.Option(
            "--enable/--disable",
            help="whether new executions may be created in it",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = Output.TABLE,
) -> None:
    """Change the fields given, and only those."""
    changes: DeploymentUpdate = {}
    _set_fields(changes, description=description, schedule=schedule, mode=mode, label=label)
    if pipeline is not None:
        changes["pipeline_name"] = pipeline
    if enabled is not None:
        changes["is_enabled"] = enabled
    if not changes:
        fail("nothing to change: give at least one option (see --help)", 2)
    show_one(client.update_deployment(name, **changes), output)


UNFINISHED = "WAITING, RUNNING, SUSPENDED, CANCEL_REQUESTED, UNKNOWN"


@deployments.command("delete", cls=Command)
@with_client
def delete(
    client: TrackingClient,
    name: NameArgument,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="delete even executions that have not ended, unasked"),
    ] = False,
) -> None:
    """Delete a deployment with its executions and their logs."""
    query = f"deployment_name = {quote(name)} AND status IN ({UNFINISHED})"
    unfinished = sum(1 for _ in client.list_executions(filter=query)) if not yes else 0
    if unfinished:
        question = (
            f"deployment {name} has {unfinished} executions that have not ended: delete them"
            " too (their `tracking run` commands are stopped)?"
        )
        if not sys.stdin.isatty():
            fail(f"{question.removesuffix('?')}: give --yes to do it", 2)
        if not typer.confirm(question):
            raise typer.Exit(1)
    client.delete_deployment(name)
    typer.echo(f"deleted deployment {name}")


def _set_fields(
    fields: DeploymentFields,
    *,
    description: str | None,
    schedule: str | None,
    mode: str | None,
    label: list[str] | None,
) -> None:
    if description is not None:
        fields["description"] = description
    if schedule is not None:
        fields["schedule"] = schedule
    if mode is not None:
        fields["mode"] = parse_enum(deployment_pb2.DeploymentMode, mode, "--mode")
    if label is not None:
        fields["labels"] = parse_pairs(label, "--label")
