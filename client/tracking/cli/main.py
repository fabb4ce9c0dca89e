"""`tracking`: one command, subcommands. `serve` needs the [server] extra."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Annotated

import typer

app = typer.Typer(
    name="tracking",
    help="Records deployments and their executions, and tells where each job stands.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """Records deployments and their executions, and tells where each job stands."""


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def serve(
    address: Annotated[
        str | None, typer.Option(help="host:port to listen on [env TRACKING_ADDRESS]")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="sqlite:///PATH or postgresql://... [env TRACKING_DATABASE_URL]"),
    ] = None,
) -> None:
    """Run the server until SIGTERM or SIGINT, then drain."""
    try:
        from pydantic import ValidationError

        from tracking.service.app import serve as run_server
        from tracking.service.settings import Settings
    except ImportError as error:
        raise fail(
            f"the server is not installed ({error.name}): pip install 'tracking[server]'"
        ) from None
    overrides = {
        key: value
        for key, value in {"address": address, "database_url": database_url}.items()
        if value is not None
    }
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise fail(str(error).replace("\n", "; "), 2) from None
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(run_server(settings))
    except OSError as error:
        raise fail(str(error)) from None
    except KeyboardInterrupt:
        pass


def main() -> None:
    app()


if __name__ == "__main__":
    main()
