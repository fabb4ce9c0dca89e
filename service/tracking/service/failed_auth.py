"""The failed-authentication limit: who it counts, and which calls it refuses.

An address that failed to authenticate too often is refused without a lookup, so a caller
guessing tokens costs a set read, no statement. A token that may be valid is still
checked, whatever its address did: one checked recently, or one whose id this server
issued (tokens.py reads the issued ids at most once a second). Guessing from behind a
shared address (a reverse proxy, a NAT) therefore never locks a real user out. Behind a
trusted proxy the address counted is the client's, read from the proxy's headers
(domain/client_address.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from tracking.service.domain.auth import Principal, parse_secret
from tracking.service.domain.client_address import Network, client_host


class Bucket(Protocol):
    def allow(self, key: str) -> bool: ...

    def exhausted(self, key: str) -> bool: ...


class IssuedTokens(Protocol):
    def verified_recently(self, secret: str) -> Principal | None: ...

    async def may_be_issued(self, token_id: str) -> bool: ...


def authorization_headers(metadata: Any) -> list[str]:
    return [value for key, value in metadata or () if key == "authorization"]


def bearer_secret(header: str) -> str:
    """The secret of `Bearer <secret>` (whatever the scheme: the caller checks it)."""
    return header.partition(" ")[2].strip()


def peer_host(peer: str) -> str:
    """The address of a peer without its port ("ipv4:10.0.0.7:51234" -> "ipv4:10.0.0.7")."""
    if peer.startswith("ipv6:"):
        return peer.rsplit(":", 1)[0] if "]" in peer else peer
    if peer.startswith("ipv4:"):
        return peer.rsplit(":", 1)[0]
    return peer


def _values(metadata: Any, name: str) -> list[str]:
    return [value for key, value in metadata or () if key == name]


class FailedAuthGuard:
    def __init__(
        self, tokens: IssuedTokens, failures: Bucket, trusted_proxies: Sequence[Network] = ()
    ) -> None:
        self.tokens = tokens
        self.failures = failures
        self.trusted_proxies = list(trusted_proxies)

    def caller(self, peer: str, metadata: Any) -> str:
        """The address a call is counted against: the peer's, or through a trusted proxy
        the client's it names."""
        if not self.trusted_proxies:
            return peer_host(peer)
        forwarded = client_host(
            peer,
            forwarded=_values(metadata, "forwarded"),
            forwarded_for=_values(metadata, "x-forwarded-for"),
            trusted=self.trusted_proxies,
        )
        return forwarded or peer_host(peer)

    async def refuses(self, address: str, metadata: Any) -> bool:
        """Whether to refuse the call without checking its token: its address has failed
        too often and its token cannot be one this server issued."""
        if not self.failures.exhausted(address):
            return False
        headers = authorization_headers(metadata)
        if len(headers) != 1:
            return True
        secret = bearer_secret(headers[0])
        if self.tokens.verified_recently(secret) is not None:
            return False
        token_id = parse_secret(secret)
        if token_id is None:
            return True
        try:
            return not await self.tokens.may_be_issued(token_id)
        except Exception:
            return False  # the token's own check says what went wrong (UNAVAILABLE)

    def failed(self, address: str) -> None:
        self.failures.allow(address)
