"""TLS and mutual TLS, health checking, reflection."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.conftest import ServerFactory
from tests.support.certs import make_pki
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def _list(channel: grpc.Channel) -> list[str]:
    stub = TrackingServiceStub(channel)
    return [
        d.name for d in stub.ListDeployments(pb.ListDeploymentsRequest(), timeout=10).deployments
    ]


def test_tls_serves_tls_clients_and_refuses_plaintext(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    ca, server_pem, _ = make_pki(tmp_path)
    server = make_server(tls_cert_file=str(server_pem.cert), tls_key_file=str(server_pem.key))
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.cert.read_bytes())
    with grpc.secure_channel(server.address, credentials) as channel:
        assert _list(channel) == []
    with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as caught:
        _list(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_needs_a_client_certificate(make_server: ServerFactory, tmp_path: Path) -> None:
    ca, server_pem, client_pem = make_pki(tmp_path)
    server = make_server(
        tls_cert_file=str(server_pem.cert),
        tls_key_file=str(server_pem.key),
        tls_client_ca_file=str(ca.cert),
        tls_require_client_cert=True,
    )
    with_cert = grpc.ssl_channel_credentials(
        root_certificates=ca.cert.read_bytes(),
        private_key=client_pem.key.read_bytes(),
        certificate_chain=client_pem.cert.read_bytes(),
    )
    with grpc.secure_channel(server.address, with_cert) as channel:
        assert _list(channel) == []
    without_cert = grpc.ssl_channel_credentials(root_certificates=ca.cert.read_bytes())
    with (
        grpc.secure_channel(server.address, without_cert) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        _list(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"tls_cert_file": "/x.crt"}, "go together"),
        ({"tls_require_client_cert": True}, "need TLS"),
    ],
)
def test_incomplete_tls_settings_are_refused(settings: dict[str, object], fragment: str) -> None:
    from pydantic import ValidationError

    from tracking.service.settings import Settings

    with pytest.raises(ValidationError) as caught:
        Settings(**settings)  # type: ignore[arg-type]
    assert fragment in str(caught.value)


def test_health_is_serving_then_not_serving_when_the_drain_starts(
    make_server: ServerFactory,
) -> None:
    server = make_server()
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "tracking.v1.TrackingService"):
            status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status
            assert status == health_pb2.HealthCheckResponse.SERVING
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        server.stop(grace=2)
        statuses = []
        try:
            for response in watch:
                statuses.append(response.status)
        except grpc.RpcError:
            pass
    assert health_pb2.HealthCheckResponse.NOT_SERVING in statuses


def test_reflection_lists_the_services(make_server: ServerFactory) -> None:
    server = make_server()
    with grpc.insecure_channel(server.address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {"tracking.v1.TrackingService", "grpc.health.v1.Health"} <= services
        descriptor = database.FindFileContainingSymbol("tracking.v1.TrackingService")
        assert descriptor.package == "tracking.v1"


def test_reflection_can_be_turned_off(make_server: ServerFactory) -> None:
    server = make_server(reflection=False)
    with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as caught:
        list(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
