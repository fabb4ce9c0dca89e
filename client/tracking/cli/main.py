"""`tracking`: one command, subcommands."""

from __future__ import annotations

import typer

from tracking.cli.health import health
from tracking.cli.server import serve, tokens

app = typer.Typer(
    name="tracking",
    help="Records deployments and their executions, and tells where each job stands.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(serve)
app.command()(health)
app.add_typer(tokens, name="tokens")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
