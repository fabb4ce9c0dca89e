"""Commands that run on the server's side: `serve`, and `tokens` (straight on the database)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from tracking.cli.common import Output, OutputOption, fail
from tracking.cli.help import Command, group
from tracking.cli.render import print_json, show_table


def _server_modules() -> Any:
    try:
        from tracking.service import app as server_app
    except ImportError as error:
        fail(
            f"the server is not installed ({error.name}): in the repository, pip install"
            " '.[server]' (make install does it)",
            2,
        )
    return server_app


def _settings(**overrides: Any) -> Any:
    from pydantic import ValidationError

    from tracking.service.settings import Settings

    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors()
        )
        fail(problems, 2)


def serve(
    address: Annotated[
        str | None, typer.Option(help="host:port to listen on [env TRACKING_ADDRESS]")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="sqlite:///PATH or postgresql://... [env TRACKING_DATABASE_URL]"),
    ] = None,
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="serve without authentication on any address")
    ] = False,
    tls_cert: Annotated[
        Path | None, typer.Option(help="server certificate (PEM) [env TRACKING_TLS_CERT_FILE]")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="server private key (PEM) [env TRACKING_TLS_KEY_FILE]")
    ] = None,
    tls_client_ca: Annotated[
        Path | None,
        typer.Option(help="CA of client certificates [env TRACKING_TLS_CLIENT_CA_FILE]"),
    ] = None,
    require_client_cert: Annotated[
        bool,
        typer.Option(
            "--require-client-cert", help="mutual TLS: refuse clients without a certificate"
        ),
    ] = False,
    metrics_address: Annotated[
        str | None,
        typer.Option(help="host:port for Prometheus /metrics [env TRACKING_METRICS_ADDRESS]"),
    ] = None,
    http_address: Annotated[
        str | None,
        typer.Option(
            help="host:port for HTTP/JSON, server-sent events and the dashboard; empty turns"
            " it off [default 127.0.0.1:8080, env TRACKING_HTTP_ADDRESS]"
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="server processes sharing the ports (SO_REUSEPORT); above 1 needs PostgreSQL"
        ),
    ] = 1,
) -> None:
    """Run the server until SIGTERM or SIGINT, then drain. Other settings: TRACKING_* variables."""
    server_app = _server_modules()
    from tracking.service.observability import configure_logging

    settings = _settings(
        address=address,
        database_url=database_url,
        auth="off" if insecure_no_auth else None,
        tls_cert_file=str(tls_cert) if tls_cert else None,
        tls_key_file=str(tls_key) if tls_key else None,
        tls_client_ca_file=str(tls_client_ca) if tls_client_ca else None,
        tls_require_client_cert=True if require_client_cert else None,
        metrics_address=metrics_address,
        http_address=http_address,
    )
    from tracking.service import workers as server_workers

    refused = server_workers.refusal(settings, workers)
    if refused is not None:
        fail(refused, 2)
    configure_logging(settings.log_level, settings.log_format)
    try:
        if workers > 1:
            raise typer.Exit(server_workers.run(settings, workers))
        asyncio.run(server_app.serve(settings))
    except OSError as error:
        fail(str(error))
    except KeyboardInterrupt:
        pass


tokens = group(help="Bearer tokens, managed straight on the database (run where it is reachable).")
DatabaseOption = Annotated[
    str | None, typer.Option(help="the server's database [env TRACKING_DATABASE_URL]")
]


async def _with_tokens(database_url: str | None, action: Any, *, create: bool = False) -> Any:
    _server_modules()
    from tracking.service.domain.errors import DomainError, InvalidArgument
    from tracking.service.operations.tokens import Tokens
    from tracking.service.store.database import Database

    url = _settings(database_url=database_url).database_url
    database = Database(url)
    # A token made in a database the server does not use would be invisible to it.
    if database.path is not None and not database.path.exists() and not create:
        fail(
            f"no database at {database.path}: give the server's --database-url (or"
            " TRACKING_DATABASE_URL), or --create-database to start a new one",
            2,
        )
    try:
        await database.start()
        return await action(Tokens(database))
    except DomainError as error:  # a bad value is a usage error; anything else, a refusal
        fail(error.message, 2 if isinstance(error, InvalidArgument) else 1)
    except OSError as error:
        fail(f"cannot reach the database: {error}")
    finally:
        await database.close()


def _row(row: Any) -> dict[str, Any]:
    return {
        "token_id": row.token_id,
        "name": row.name,
        "role": row.role.lower(),
        "create_time": row.create_time.isoformat(),
        "created_by": row.created_by,
        "revoke_time": row.revoke_time.isoformat() if row.revoke_time else None,
    }


@tokens.command("create", cls=Command)
def create_token(
    role: Annotated[str, typer.Option(help="reader, writer or admin")],
    name: Annotated[str, typer.Option(help="who or what will use it")] = "cli",
    database_url: DatabaseOption = None,
    create_database: Annotated[
        bool,
        typer.Option(
            "--create-database", help="create the SQLite database if it does not exist yet"
        ),
    ] = False,
) -> None:
    """Create a token and print its secret (shown this once; only a hash is stored)."""
    row, secret = asyncio.run(
        _with_tokens(
            database_url,
            lambda t: t.create(name, role.upper(), "tracking tokens create"),
            create=create_database,
        )
    )
    typer.echo(f"created {row.token_id} ({row.role.lower()}) for {row.name}", err=True)
    typer.echo(secret)


TOKEN_COLUMNS: Sequence[tuple[str, Callable[[dict[str, Any]], str]]] = (
    ("ID", lambda t: t["token_id"]),
    ("NAME", lambda t: t["name"]),
    ("ROLE", lambda t: t["role"]),
    ("CREATED", lambda t: t["create_time"][:19].replace("T", " ") + "Z"),
    ("CREATED BY", lambda t: t["created_by"] or "-"),
    ("REVOKED", lambda t: (t["revoke_time"] or "-")[:19].replace("T", " ")),
)


@tokens.command("list", cls=Command)
def list_tokens(
    include_revoked: Annotated[bool, typer.Option("--all", help="also revoked tokens")] = False,
    database_url: DatabaseOption = None,
    output: OutputOption = Output.TABLE,
) -> None:
    """List tokens (never their secrets): a table, or JSON with -o json."""
    rows = asyncio.run(_with_tokens(database_url, lambda t: t.list_all(include_revoked)))
    tokens_shown = [_row(row) for row in rows]
    if output is Output.JSON:
        print_json(tokens_shown)
    else:
        show_table(tokens_shown, TOKEN_COLUMNS)


@tokens.command("revoke", cls=Command)
def revoke_token(
    token_id: Annotated[str, typer.Argument(help="id of the token (tok_...)", show_default=False)],
    database_url: DatabaseOption = None,
    output: OutputOption = Output.TABLE,
) -> None:
    """Revoke a token: refused at once, its open streams end within a minute. Exit code 1
    when there is no such token."""
    row = asyncio.run(_with_tokens(database_url, lambda t: t.revoke(token_id)))
    if output is Output.JSON:
        print_json(_row(row))
    else:
        typer.echo(f"revoked {row.token_id} ({row.role.lower()}) of {row.name}")
