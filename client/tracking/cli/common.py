"""What every client command shares: connection options, errors, parsing of flag values."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Concatenate, NoReturn, ParamSpec, TypeVar

import grpc
import typer

from tracking.client import (
    DEFAULT_ADDRESS,
    AsyncTrackingClient,
    DeadlineExceeded,
    RemoteException,
    RetryPolicy,
    TrackingClient,
)
from tracking.client.convert import EnumArg, enum_value
from tracking.client.current import credentials_from_files

AddressOption = Annotated[
    str, typer.Option("--address", envvar="TRACKING_ADDRESS", help="host:port of the server")
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="TRACKING_TOKEN", help="bearer token", show_default=False),
]
TlsCaOption = Annotated[
    Path | None,
    typer.Option(
        "--tls-ca", envvar="TRACKING_TLS_CA", help="CA certificate (PEM): connect with TLS"
    ),
]
TlsCertOption = Annotated[
    Path | None,
    typer.Option(
        "--tls-cert", envvar="TRACKING_TLS_CERT", help="client certificate (PEM), for mutual TLS"
    ),
]
TlsKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--tls-key", envvar="TRACKING_TLS_KEY", help="client private key (PEM), for mutual TLS"
    ),
]
TIMEOUT_EXIT_CODE = 124  # as timeout(1)
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        help=f"give up after this many seconds, with exit code {TIMEOUT_EXIT_CODE}",
        min=0,
        show_default=False,
    ),
]
# A follower rides out server restarts, drains and outages however long they last; it ends
# when what it follows ends, on Ctrl-C, or at --timeout.
PATIENT_RETRY = RetryPolicy(max_attempts=1_000_000, initial_backoff=0.2, max_backoff=5.0)
# The channel's own reconnect backoff would otherwise grow to two minutes.
PATIENT_OPTIONS = (("grpc.max_reconnect_backoff_ms", 5000),)


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


OutputOption = Annotated[
    Output,
    typer.Option(
        "--output",
        "-o",
        envvar="TRACKING_OUTPUT",
        help="table for people, json for scripts",
        case_sensitive=False,
    ),
]


LabelsOption = Annotated[
    list[str] | None,
    typer.Option("--label", "-l", help="key=value; repeat for several", show_default=False),
]
DeploymentOption = Annotated[
    str | None,
    typer.Option("--deployment", "-d", help="name of the deployment", show_default=False),
]
PipelineOption = Annotated[
    str | None,
    typer.Option(help="pipeline of a standalone execution (no --deployment)", show_default=False),
]
ExecutionIdOption = Annotated[
    str | None,
    typer.Option(
        "--id", help="choose the execution's id (default: the server's)", show_default=False
    ),
]
JobNameOption = Annotated[
    str | None, typer.Option(help="human name of the job", show_default=False)
]


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr, no traceback, a non-zero exit."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@dataclass(frozen=True)
class Connection:
    address: str
    token: str | None
    tls_ca: Path | None
    tls_cert: Path | None
    tls_key: Path | None

    def credentials(self) -> grpc.ChannelCredentials | None:
        if (self.tls_cert is None) != (self.tls_key is None):
            fail("--tls-cert and --tls-key go together", 2)
        try:
            return credentials_from_files(self.tls_ca, self.tls_cert, self.tls_key)
        except OSError as error:
            fail(f"cannot read a TLS file: {error}", 2)

    def environment(self) -> dict[str, str]:
        """The variables that let a child process (a job of `tracking run`) reach the same
        server the same way."""
        values = {
            "TRACKING_ADDRESS": self.address,
            "TRACKING_TOKEN": self.token,
            "TRACKING_TLS_CA": self.tls_ca and str(self.tls_ca.resolve()),
            "TRACKING_TLS_CERT": self.tls_cert and str(self.tls_cert.resolve()),
            "TRACKING_TLS_KEY": self.tls_key and str(self.tls_key.resolve()),
        }
        return {name: value for name, value in values.items() if value}

    def channel(self, options: tuple[tuple[str, Any], ...] = ()) -> grpc.Channel:
        credentials = self.credentials()
        if credentials is None:
            return grpc.insecure_channel(self.address, options=options)
        return grpc.secure_channel(self.address, credentials, options=options)

    def client(self) -> TrackingClient:
        return TrackingClient(self.address, credentials=self.credentials(), token=self.token)

    def async_client(self) -> AsyncTrackingClient:
        return AsyncTrackingClient(self.address, credentials=self.credentials(), token=self.token)


_CONNECTION_PARAMETERS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
    for name, annotation, default in (
        ("address", AddressOption, DEFAULT_ADDRESS),
        ("token", TokenOption, None),
        ("tls_ca", TlsCaOption, None),
        ("tls_cert", TlsCertOption, None),
        ("tls_key", TlsKeyOption, None),
    )
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def with_connection(command: Callable[Concatenate[Connection, P], R]) -> Callable[P, R]:
    """Add --address, --token and the TLS options (each with its environment variable) to a
    command's signature, which is what typer reads, and pass them as its first parameter.

    A RemoteException (an unreachable server included) becomes one line and exit code 1.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        values = (kwargs.pop(p.name) for p in _CONNECTION_PARAMETERS)
        connection = Connection(*values)  # type: ignore[arg-type]
        check_address(connection.address)
        with remote_errors(connection.address):
            return command(connection, *args, **kwargs)

    own = list(inspect.signature(command, eval_str=True).parameters.values())[1:]
    run.__signature__ = inspect.Signature(own + _CONNECTION_PARAMETERS)  # type: ignore[attr-defined]
    return run


_PORT = re.compile(r".*:(\d+)")


def check_address(address: str) -> None:
    """A host:port whose port cannot be one is a mistake, not a server to look for (gRPC
    would take 99999 as 34463)."""
    match = _PORT.fullmatch(address)
    if match and not 1 <= int(match[1]) <= 65535:
        fail(f"--address {address}: the port must be between 1 and 65535", 2)


def with_client(command: Callable[Concatenate[TrackingClient, P], R]) -> Callable[P, R]:
    """Like with_connection, with a TrackingClient on that connection as first parameter."""

    @functools.wraps(command)
    def run(connection: Connection, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with connection.client() as client:
            return command(client, *args, **kwargs)

    return with_connection(run)


@contextmanager
def timeout_exit(timeout: float | None) -> Iterator[None]:
    """A stream cut off by --timeout: one line on stderr and TIMEOUT_EXIT_CODE."""
    try:
        yield
    except DeadlineExceeded:
        if timeout is None:
            raise
        fail(f"gave up after --timeout {timeout:g} s", TIMEOUT_EXIT_CODE)


@contextmanager
def remote_errors(address: str) -> Iterator[None]:
    """Turn the client's failures into one line on stderr and exit code 1."""
    try:
        yield
    except RemoteException as error:
        if error.code is grpc.StatusCode.UNAVAILABLE:
            fail(f"cannot reach the server at {address}: {error.message}")
        fail(f"{error.code.name}: {_with_violations(error)}")


def _with_violations(error: RemoteException) -> str:
    if all(v.description in error.message for v in error.field_violations):
        return error.message
    fields = "; ".join(f"{v.field}: {v.description}" for v in error.field_violations)
    return f"{error.message} ({fields})"


def parse_pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    """`key=value` flags (repeatable) as a dict."""
    pairs: dict[str, str] = {}
    for value in values or ():
        key, sep, item = value.partition("=")
        if not sep or not key:
            fail(f"{flag} takes key=value, not {value!r}", 2)
        pairs[key] = item
    return pairs


def json_or_text(text: str) -> Any:
    """A flag value as JSON when it parses (`3`, `true`, `{"a": 1}`), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_enum(enum_type: type[int], value: EnumArg, flag: str) -> int:
    try:
        return enum_value(enum_type, value)
    except ValueError as error:
        fail(f"{flag}: {error}", 2)


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """A duration back from now (`90s`, `10m`, `2h`, `1d`) or an RFC 3339 time."""
    if value is None:
        return None
    match = _DURATION.match(value.strip())
    if match:
        seconds = float(match[1]) * _UNIT_SECONDS[match[2]]
        return (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=seconds)
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"--since takes a duration (30s, 10m, 2h, 1d) or an RFC 3339 time, not {value!r}", 2)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def first(items: Iterable[T], limit: int) -> Iterable[T]:
    """The first `limit` items; all of them for 0."""
    return itertools.islice(items, limit or None)
