"""`tracking`: one command, subcommands."""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import version
from typing import Annotated, Any

import typer

from tracking.cli.deployments import deployments
from tracking.cli.executions import executions
from tracking.cli.health import health
from tracking.cli.help import Command, group
from tracking.cli.logs import logs
from tracking.cli.metrics import metrics
from tracking.cli.report import report
from tracking.cli.run import run
from tracking.cli.server import serve, tokens
from tracking.cli.subscriptions import subscriptions
from tracking.cli.watch import watch

app = group(
    name="tracking",
    help="Records deployments and their executions, and tells where each job stands.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"tracking {version('tracking')}")
        raise typer.Exit(0)


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="print the version and exit",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Records deployments and their executions, and tells where each job stands."""


app.command(cls=Command)(serve)
app.command(cls=Command)(health)
app.add_typer(tokens, name="tokens")
app.add_typer(subscriptions, name="subscriptions")
app.add_typer(deployments, name="deployments")
app.add_typer(executions, name="executions")
app.command(cls=Command)(watch)
app.command(cls=Command)(logs)
app.command(cls=Command)(metrics)
app.command(cls=Command, context_settings={"allow_interspersed_args": False})(run)
app.add_typer(report, name="report")


# click's exceptions, wherever this typer takes click from (its own copy, or the package).
click_errors = importlib.import_module(typer.BadParameter.__module__)
NoArgsIsHelp = getattr(click_errors, "NoArgsIsHelpError", ())


def _options_below(command: Any) -> set[str]:
    """The options the commands of a group take (nothing for a command that is no group)."""
    found: set[str] = set()
    for sub in getattr(command, "commands", {}).values():
        for param in sub.params:
            found.update(getattr(param, "opts", ()), getattr(param, "secondary_opts", ()))
        found |= _options_below(sub)
    return found


def main() -> None:
    """Run the command line; a bad flag or argument is one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelp:
        code = 0  # typer has printed the help already
    except click_errors.ClickException as error:
        where = (
            f"{error.ctx.command_path} --help"
            if isinstance(error, click_errors.UsageError) and error.ctx
            else "--help"
        )
        message = error.format_message()
        if (
            isinstance(error, click_errors.NoSuchOption)
            and error.ctx
            and error.option_name in _options_below(error.ctx.command)
        ):
            # `tracking --address X executions list`: options belong to the command they
            # follow, and a group takes none of the connection's.
            message += (
                f"; options go after the command: {error.ctx.command_path} COMMAND"
                f" {error.option_name} ..."
            )
        typer.echo(f"error: {message} (see {where})", err=True)
        code = error.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
