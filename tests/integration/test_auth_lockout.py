"""Guessing tokens from an address never locks out a real token sent from it, on gRPC and
HTTP; behind a trusted proxy the limit counts the client the proxy names."""

from __future__ import annotations

import secrets

import grpc
import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.factories import new_token
from tests.support.server import ServerThread
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

BURST = 3
GUESSES = 60


def fake_token() -> str:
    """A secret of the right shape that this server never issued."""
    return f"tok_{secrets.token_hex(6)}.{secrets.token_urlsafe(32)}"


def grpc_code(stub: TrackingServiceStub, secret: str, *extra: tuple[str, str]) -> str:
    try:
        stub.ListDeployments(
            pb.ListDeploymentsRequest(),
            metadata=(("authorization", f"Bearer {secret}"), *extra),
            timeout=30,
        )
    except grpc.RpcError as error:
        return str(error.code().name)
    return "OK"


def http_code(client: httpx.Client, secret: str, **headers: str) -> str:
    response = client.post(
        "/tracking.v1.TrackingService/ListDeployments",
        json={},
        headers={"authorization": f"Bearer {secret}", **headers},
    )
    return "OK" if response.status_code == 200 else str(response.json()["code"]).upper()


@pytest.fixture
def guarded(make_server: ServerFactory) -> ServerThread:
    # No token stays cached: every valid call from the guessing address needs a lookup,
    # which is what the limit used to refuse.
    return make_server(
        auth="on",
        http_address="127.0.0.1:0",
        token_cache_seconds=0,
        auth_failures_per_second=0.001,
        auth_failure_burst=BURST,
    )


def test_a_valid_token_is_served_over_grpc_from_an_address_that_guessed(
    guarded: ServerThread,
) -> None:
    assert guarded.app is not None
    tokens = guarded.app.tokens
    _, valid = new_token(guarded, "READER")
    with grpc.insecure_channel(guarded.address) as channel:
        stub = TrackingServiceStub(channel)
        assert [grpc_code(stub, fake_token()) for _ in range(BURST)] == ["UNAUTHENTICATED"] * 3
        lookups, reads = tokens.lookups, tokens.issued_reads
        guesses = [
            stub.ListDeployments.future(
                pb.ListDeploymentsRequest(),
                metadata=(("authorization", f"Bearer {fake_token()}"),),
                timeout=30,
            )
            for _ in range(GUESSES)
        ]
        assert grpc_code(stub, valid) == "OK"
        # A token made after the address was locked out, on this server's database.
        _, newer = new_token(guarded, "WRITER")
        assert grpc_code(stub, newer) == "OK"
        refused = [guess.exception() for guess in guesses]
        assert {error.code() for error in refused if isinstance(error, grpc.RpcError)} == {
            grpc.StatusCode.RESOURCE_EXHAUSTED
        }
        # The guesses cost no token lookup; the issued ids were read a few times for all.
        assert tokens.lookups - lookups == 2  # the two valid tokens
        assert tokens.issued_reads - reads <= 4


def test_a_valid_token_is_served_over_http_from_an_address_that_guessed(
    guarded: ServerThread,
) -> None:
    _, valid = new_token(guarded, "READER")
    with httpx.Client(base_url=guarded.http_url, timeout=30) as client:
        codes = [http_code(client, fake_token()) for _ in range(BURST + 2)]
        assert codes == ["UNAUTHENTICATED"] * BURST + ["RESOURCE_EXHAUSTED"] * 2
        assert http_code(client, valid) == "OK"
        assert http_code(client, fake_token()) == "RESOURCE_EXHAUSTED"


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    make_server: ServerFactory,
) -> None:
    server = make_server(
        auth="on",
        http_address="127.0.0.1:0",
        auth_failures_per_second=0.001,
        auth_failure_burst=BURST,
        trusted_proxies="127.0.0.0/8, ::1",
    )
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        guesser = ("x-forwarded-for", "198.51.100.7, 127.0.0.1")
        codes = [grpc_code(stub, fake_token(), guesser) for _ in range(BURST + 1)]
        assert codes == ["UNAUTHENTICATED"] * BURST + ["RESOURCE_EXHAUSTED"]
        # Another client behind the same proxy has its own budget.
        other = ("x-forwarded-for", "198.51.100.8")
        assert grpc_code(stub, fake_token(), other) == "UNAUTHENTICATED"
    with httpx.Client(base_url=server.http_url, timeout=30) as client:
        # RFC 7239's header, which wins over X-Forwarded-For when both are sent.
        forwarded = {"forwarded": 'for="[2001:db8::9]:4711"', "x-forwarded-for": "198.51.100.8"}
        codes = [http_code(client, fake_token(), **forwarded) for _ in range(BURST + 1)]
        assert codes == ["UNAUTHENTICATED"] * BURST + ["RESOURCE_EXHAUSTED"]
        assert http_code(client, fake_token(), **{"x-forwarded-for": "198.51.100.9"}) == (
            "UNAUTHENTICATED"
        )
