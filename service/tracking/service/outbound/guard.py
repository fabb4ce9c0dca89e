"""Outbound connections that refuse loopback, private, link-local and metadata addresses.

The check runs when each connection is made, on the addresses the name resolves to then
(aiohttp's DNS cache is off): a name checked at creation may resolve elsewhere later (DNS
rebinding). A URL whose host is an IP address is never resolved, so it is checked by
`refused_literal` before each request."""

from __future__ import annotations

import ipaddress
import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from tracking.service.domain.subscriptions import refused_address


class RefusedAddress(OSError):
    """The receiver's address is in a refused range."""


def _refusal(host: str, address: str, reason: str) -> RefusedAddress:
    return RefusedAddress(
        f"refused: {host} resolves to {address}, a {reason} address"
        " (setting outbound_allow_private_addresses)"
    )


class GuardedResolver(AbstractResolver):
    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._resolver = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        if not self.allow_private:
            for result in results:
                reason = refused_address(result["host"])
                if reason is not None:
                    raise _refusal(host, result["host"], reason)
        return results

    async def close(self) -> None:
        await self._resolver.close()


def refused_literal(host: str, allow_private: bool) -> RefusedAddress | None:
    """The refusal of a URL host that is an IP address in a refused range, else None."""
    if allow_private:
        return None
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    reason = refused_address(host.strip("[]"))
    return None if reason is None else _refusal(host, host, reason)


def guarded_connector(allow_private: bool, max_connections: int) -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(
        resolver=GuardedResolver(allow_private),
        use_dns_cache=False,
        limit=max_connections,
        keepalive_timeout=30.0,
    )
