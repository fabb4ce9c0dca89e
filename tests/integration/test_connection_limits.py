"""Connections that never speak HTTP/2, and more connections than the server takes."""

from __future__ import annotations

import socket
from contextlib import ExitStack

import grpc

from tests.conftest import ServerFactory
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

# Only a guard against a hang: the server's own timeouts decide when a socket closes.
GUARD_SECONDS = 30


def silent_connection(address: str) -> socket.socket:
    """A TCP connection that never sends the HTTP/2 preface."""
    host, port = address.rsplit(":", 1)
    connection = socket.create_connection((host, int(port)), timeout=GUARD_SECONDS)
    return connection


def closed_by_server(connection: socket.socket) -> bool:
    """Wait until the server closes the connection (True) or the guard passes (False)."""
    try:
        while connection.recv(65536):
            pass  # the server's SETTINGS frame, then nothing
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_a_connection_that_never_sends_its_preface_is_closed(make_server: ServerFactory) -> None:
    server = make_server(handshake_timeout_seconds=0.5)
    with ExitStack() as stack:
        silent = [stack.enter_context(silent_connection(server.address)) for _ in range(50)]
        assert all(closed_by_server(connection) for connection in silent)
        with grpc.insecure_channel(server.address) as channel:
            stub = TrackingServiceStub(channel)
            stub.ListDeployments(pb.ListDeploymentsRequest(), timeout=10)


def test_connections_beyond_the_cap_are_closed_at_once_and_the_rest_stay_served(
    make_server: ServerFactory,
) -> None:
    server = make_server(max_connections=8, handshake_timeout_seconds=GUARD_SECONDS * 4)
    with ExitStack() as stack:
        held = [stack.enter_context(silent_connection(server.address)) for _ in range(8)]
        extra = stack.enter_context(silent_connection(server.address))
        assert closed_by_server(extra)
        for connection in held:
            assert still_open(connection)
    # Once those are gone, a client gets in (its first tries may still find the cap reached).
    with grpc.insecure_channel(server.address) as channel:
        TrackingServiceStub(channel).ListDeployments(
            pb.ListDeploymentsRequest(), timeout=GUARD_SECONDS, wait_for_ready=True
        )


def still_open(connection: socket.socket) -> bool:
    connection.settimeout(0.2)
    try:
        return connection.recv(65536) != b""  # the server's SETTINGS frame
    except TimeoutError:
        return True  # open, nothing more to read
