"""`tracking health`: ask the server's gRPC health service (used by the Docker HEALTHCHECK)."""

from __future__ import annotations

from typing import Annotated

import grpc
import typer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tracking.cli.common import (
    AddressOption,
    Connection,
    TlsCaOption,
    TlsCertOption,
    TlsKeyOption,
    fail,
)
from tracking.client import DEFAULT_ADDRESS

# A listen address on every interface (the server's TRACKING_ADDRESS in the image) names
# this machine when it is the address to check.
WILDCARD_HOSTS = ("0.0.0.0", "[::]", "")


def local_target(address: str) -> str:
    host, _, port = address.rpartition(":")
    return f"localhost:{port}" if host in WILDCARD_HOSTS else address


def health(
    address: AddressOption = DEFAULT_ADDRESS,
    tls_ca: TlsCaOption = None,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the answer")] = 5.0,
) -> None:
    """Exit 0 if the server answers SERVING, 1 otherwise.

    A wildcard host (0.0.0.0:50051, as a server listens) is checked on localhost.
    """
    address = local_target(address)
    connection = Connection(address, None, tls_ca, tls_cert, tls_key)
    with connection.channel() as channel:
        try:
            status = (
                health_pb2_grpc.HealthStub(channel)
                .Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
                .status
            )
        except grpc.RpcError as error:
            fail(f"{address} did not answer: {error.code().name} {error.details() or ''}".strip())
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
    typer.echo(name)
    if status != health_pb2.HealthCheckResponse.SERVING:
        raise typer.Exit(1)
