"""What a caller without a valid token can cost the server, and ambiguous credentials."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import grpc
import pytest

from tests.conftest import ServerFactory
from tests.support.factories import new_token
from tests.support.server import ServerThread
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

BURST = 20


def fake_token() -> str:
    """A secret of the right shape that this server never issued."""
    return f"tok_{secrets.token_hex(6)}.{secrets.token_urlsafe(32)}"


def code_of(stub: TrackingServiceStub, metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode:
    try:
        stub.ListDeployments(pb.ListDeploymentsRequest(), metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.fixture
def guarded(make_server: ServerFactory) -> ServerThread:
    # Failures refill so slowly that the burst is all a guesser gets during the test.
    return make_server(auth="on", auth_failures_per_second=0.001, auth_failure_burst=BURST)


def test_guessed_tokens_are_refused_without_a_lookup_once_an_address_has_failed_enough(
    guarded: ServerThread,
) -> None:
    assert guarded.app is not None
    _, valid = new_token(guarded, "READER")
    with grpc.insecure_channel(guarded.address) as channel:
        stub = TrackingServiceStub(channel)
        assert code_of(stub, (("authorization", f"Bearer {valid}"),)) == grpc.StatusCode.OK
        lookups = guarded.app.tokens.lookups
        codes = [
            code_of(stub, (("authorization", f"Bearer {fake_token()}"),)) for _ in range(BURST)
        ]
        assert codes == [grpc.StatusCode.UNAUTHENTICATED] * BURST
        assert guarded.app.tokens.lookups - lookups == BURST
        # Refused guesses wait together for one read of the issued ids (at most one a
        # second), so they are sent at once.
        reads = guarded.app.tokens.issued_reads
        guesses = [
            stub.ListDeployments.future(
                pb.ListDeploymentsRequest(),
                metadata=(("authorization", f"Bearer {fake_token()}"),),
                timeout=30,
            )
            for _ in range(300)
        ]
        refused = [guess.exception() for guess in guesses]
        assert all(
            isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            for error in refused
        )
        assert guarded.app.tokens.lookups - lookups == BURST
        assert guarded.app.tokens.issued_reads - reads <= 4
        # A token this server checked a moment ago still works from the same address.
        assert code_of(stub, (("authorization", f"Bearer {valid}"),)) == grpc.StatusCode.OK


def test_unknown_tokens_are_remembered_only_for_the_cache_time(
    make_server: ServerFactory,
) -> None:
    server = make_server(auth="on", token_cache_seconds=60, auth_failures_per_second=1e6)
    assert server.app is not None
    tokens = server.app.tokens
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        for _ in range(50):
            code_of(stub, (("authorization", f"Bearer {fake_token()}"),))
    assert len(tokens._cache) == 50
    tokens._cache.expire(tokens._cache.timer() + 61)
    assert len(tokens._cache) == 0


def test_two_authorization_headers_are_refused(guarded: ServerThread) -> None:
    _, reader = new_token(guarded, "READER")
    _, admin = new_token(guarded, "ADMIN")
    with grpc.insecure_channel(guarded.address) as channel:
        stub = TrackingServiceStub(channel)
        metadata = (("authorization", f"Bearer {reader}"), ("authorization", f"Bearer {admin}"))
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListTokens(pb.ListTokensRequest(), metadata=metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "one authorization header, not 2" in str(refused.value.details())


@pytest.mark.parametrize("auth", ["on", "off"])
def test_oversized_metadata_is_refused_before_any_work(
    make_server: ServerFactory, auth: str
) -> None:
    # Below what gRPC itself enforces (16 KiB), so the call reaches the server's own check.
    server = make_server(auth=auth, max_metadata_bytes=4096)
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)
        metadata = (("x-padding", "p" * 8 * 1024),)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListDeployments(pb.ListDeploymentsRequest(), metadata=metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # gRPC core refuses most such calls itself; the server refuses the rest in its first
        # wrapper (tests/unit/test_auth_limits.py): either way, nothing reaches a handler.
        assert "metadata" in str(refused.value.details())
        assert code_of(stub, (("x-padding", "p" * 1024),)) in (
            grpc.StatusCode.OK,
            grpc.StatusCode.UNAUTHENTICATED,
        )


def test_the_open_stream_budget_is_per_token_not_per_token_name(make_server: ServerFactory) -> None:
    server = make_server(auth="on", max_watchers_per_principal=2)
    _, first = new_token(server, "READER", name="ci")
    _, second = new_token(server, "READER", name="ci")
    with grpc.insecure_channel(server.address) as channel:
        stub = TrackingServiceStub(channel)

        def watch(secret: str) -> Iterator[pb.WatchStatusResponse]:
            stream: Iterator[pb.WatchStatusResponse] = stub.WatchStatus(
                pb.WatchStatusRequest(), metadata=(("authorization", f"Bearer {secret}"),)
            )
            return stream

        held = [watch(first), watch(first)]
        for stream in held:
            next(stream)  # open: the first snapshot or heartbeat has arrived
        refused = watch(first)
        with pytest.raises(grpc.RpcError) as error:
            next(refused)
        assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "already has 2 open streams" in str(error.value.details())
        other = watch(second)  # the same name, another token: a budget of its own
        next(other)
        for stream in [*held, other]:
            stream.cancel()  # type: ignore[attr-defined]
