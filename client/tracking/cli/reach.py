"""How a follower (`watch`, `logs -f`) reaches its server: the first connection within a
bound (--connect-timeout), failing like any other command after it; once connected, as long
as it takes. It says on stderr when it waits for the server or lost it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import grpc
import typer

from tracking.cli.common import PATIENT_OPTIONS, PATIENT_RETRY, Connection, fail
from tracking.client import TrackingClient
from tracking.client.resume import log as client_log

DEFAULT_CONNECT_TIMEOUT = 5.0
ConnectTimeoutOption = Annotated[
    float,
    typer.Option(
        "--connect-timeout",
        envvar="TRACKING_CONNECT_TIMEOUT",
        help="exit with code 1 when the first connection to the server takes longer (0: wait "
        "for it); once connected, lost connections are retried for as long as it takes",
        min=0,
    ),
]
# A server that is there answers well within this; after it, the follower says it waits.
QUIET_SECONDS = 1.0


def notice(message: str) -> None:
    typer.echo(f"tracking: {message}", err=True)


@contextmanager
def follower(connection: Connection, connect_timeout: float) -> Iterator[TrackingClient]:
    """A client whose streams reconnect for as long as it takes, once the server answered."""
    channel = connection.channel(options=PATIENT_OPTIONS)
    try:
        wait_for_server(channel, connection.address, connect_timeout)
        with _reconnect_notices(connection.address):
            yield TrackingClient.from_channel(channel, token=connection.token, retry=PATIENT_RETRY)
    finally:
        channel.close()


def wait_for_server(channel: grpc.Channel, address: str, connect_timeout: float) -> None:
    ready = grpc.channel_ready_future(channel)
    quiet = QUIET_SECONDS if connect_timeout == 0 else min(QUIET_SECONDS, connect_timeout)
    if _ready_within(ready, quiet):
        return
    if connect_timeout == 0:
        notice(f"waiting for the server at {address} (for as long as it takes)")
        ready.result()
        return
    left = connect_timeout - quiet
    if left > 0:
        notice(f"waiting for the server at {address} (up to {connect_timeout:g} s)")
        if _ready_within(ready, left):
            return
    ready.cancel()
    fail(f"cannot reach the server at {address} within --connect-timeout {connect_timeout:g} s")


def _ready_within(ready: grpc.Future, seconds: float) -> bool:  # type: ignore[type-arg]
    try:
        ready.result(timeout=seconds)
    except grpc.FutureTimeoutError:
        return False
    return True


@contextmanager
def _reconnect_notices(address: str) -> Iterator[None]:
    handler = _ReconnectNotice(address)
    level = client_log.level
    client_log.addHandler(handler)
    client_log.setLevel(logging.INFO)
    try:
        yield
    finally:
        client_log.removeHandler(handler)
        client_log.setLevel(level)


class _ReconnectNotice(logging.Handler):
    """One line on stderr when a stream loses the server, not one per attempt."""

    def __init__(self, address: str) -> None:
        super().__init__(logging.INFO)
        self.address = address

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "reconnect_failure", None) == 1:
            code = getattr(record, "reconnect_code", "")
            notice(f"lost the server at {self.address} ({code}); reconnecting")
