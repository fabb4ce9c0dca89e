"""What every client command shares: connection options, errors, output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import grpc
import typer

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
DEFAULT_ADDRESS = "127.0.0.1:50051"


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
        if self.tls_ca is None and self.tls_cert is None:
            return None
        if (self.tls_cert is None) != (self.tls_key is None):
            fail("--tls-cert and --tls-key go together", 2)
        try:
            return grpc.ssl_channel_credentials(
                root_certificates=self.tls_ca.read_bytes() if self.tls_ca else None,
                private_key=self.tls_key.read_bytes() if self.tls_key else None,
                certificate_chain=self.tls_cert.read_bytes() if self.tls_cert else None,
            )
        except OSError as error:
            fail(f"cannot read a TLS file: {error}", 2)

    def channel(self) -> grpc.Channel:
        credentials = self.credentials()
        if credentials is None:
            return grpc.insecure_channel(self.address)
        return grpc.secure_channel(self.address, credentials)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=str))
