"""The admission checks that need no token lookup: metadata size, peers, rate buckets."""

from __future__ import annotations

import asyncio

import grpc

from tracking.service.auth import AuthInterceptor, RateLimiter, Refusal, metadata_size
from tracking.service.failed_auth import peer_host
from tracking.service.operations.tokens import Tokens


class NoDatabase:
    """Stands where a Database would be: any use of it is a failure of the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the database was used ({name}) before the call was refused")


def interceptor(required: bool) -> AuthInterceptor:
    tokens = Tokens(NoDatabase())  # type: ignore[arg-type]
    return AuthInterceptor(
        tokens, required=required, limiter=RateLimiter(0, 1), max_metadata_bytes=1024
    )


def test_oversized_metadata_is_refused_before_the_token_is_looked_up() -> None:
    metadata = (("authorization", "Bearer tok_0123456789ab." + "a" * 43), ("x-pad", "p" * 2000))
    for required in (True, False):
        refusal = asyncio.run(
            interceptor(required)._admit("/x/ListDeployments", metadata, "ipv4:1.2.3.4:5")
        )
        assert isinstance(refusal, Refusal)
        assert refusal.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert f"{metadata_size(metadata)} bytes, more than the 1024" in refusal.message


def test_peer_host_drops_the_port() -> None:
    assert peer_host("ipv4:10.0.0.7:51234") == "ipv4:10.0.0.7"
    assert peer_host("ipv6:[::1]:51234") == "ipv6:[::1]"
    assert peer_host("unix:/tmp/socket") == "unix:/tmp/socket"


def test_a_rate_bucket_refills_and_peeking_takes_nothing() -> None:
    limiter = RateLimiter(rate=1, burst=2)
    assert limiter.allow("a", now=0)
    assert limiter.allow("a", now=0)
    assert limiter.exhausted("a", now=0)
    assert limiter.exhausted("a", now=0)
    assert not limiter.allow("a", now=0)
    assert not limiter.exhausted("a", now=1.0)
    assert limiter.allow("a", now=1.0)


def test_a_full_table_of_buckets_forgets_the_callers_whose_bucket_is_full_again() -> None:
    limiter = RateLimiter(rate=1, burst=2, max_callers=2)
    assert limiter.allow("idle", now=0)
    assert limiter.allow("busy", now=1.5)
    assert limiter.allow("busy", now=1.5)
    # "idle" is full again at t=2 (burst / rate after its last request): forgetting it
    # changes nothing, and "busy", still short of requests, stays short.
    assert not limiter.allow("busy", now=2.0)
    assert limiter.allow("new", now=2.5)
    assert limiter.allow("idle", now=2.5)
    assert limiter.allow("idle", now=2.5)
