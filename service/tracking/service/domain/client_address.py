"""The address a call comes from, read through the reverse proxies the operator trusts.

Behind a proxy every caller shares the proxy's address. A proxy the settings name
(TRACKING_TRUSTED_PROXIES) says who its client was in `Forwarded` (RFC 7239, used when
present) or `X-Forwarded-For`; each proxy appends the address it received the request
from. Read from the right, the first address that is not a trusted proxy is the client.
From any other peer those headers are the caller's to write, and are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def networks(text: str) -> list[Network]:
    """The networks of a comma-separated list of addresses and CIDRs; ValueError names a
    bad one."""
    found: list[Network] = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            try:
                found.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
    return found


def peer_address(peer: str) -> Address | None:
    """The IP of a gRPC peer name ("ipv4:10.0.0.7:51234", "ipv6:[::1]:51234")."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        host = rest.rsplit(":", 1)[0]
    elif kind == "ipv6":
        host = rest.rsplit("]", 1)[0].lstrip("[") if "]" in rest else rest
    else:
        return None
    return _address(host)


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _forwarded_hops(forwarded: Sequence[str]) -> list[str]:
    """The `for=` of each element of Forwarded headers, in order ("" for one without)."""
    hops: list[str] = []
    for header in forwarded:
        for element in header.split(","):
            found = ""
            for pair in element.split(";"):
                name, _, value = pair.strip().partition("=")
                if name.strip().lower() == "for":
                    found = value.strip().strip('"')
            hops.append(found)
    return hops


def _forwarded_host(value: str) -> str:
    """The address part of a Forwarded `for=` value ("[2001:db8::1]:4711", "10.0.0.7:80")."""
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.split(":", 1)[0] if value.count(":") == 1 else value


def _named(address: Address) -> str:
    return f"ipv6:[{address}]" if address.version == 6 else f"ipv4:{address}"


def client_host(
    peer: str,
    *,
    forwarded: Sequence[str],
    forwarded_for: Sequence[str],
    trusted: Sequence[Network],
) -> str | None:
    """The client's address named as gRPC names a peer without its port ("ipv4:10.0.0.7"),
    when the peer is a trusted proxy that says who its client was; None otherwise (the peer
    itself is the caller)."""
    if not trusted:
        return None
    address = peer_address(peer)
    if address is None or not _trusted(address, trusted):
        return None
    if forwarded:
        hops = [_forwarded_host(hop) for hop in _forwarded_hops(forwarded)]
    else:
        hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    client: Address | None = None
    for hop in reversed(hops):
        hop_address = _address(hop)
        if hop_address is None:
            # An obfuscated or unknown hop: the proxy after it is the last address known.
            break
        client = hop_address
        if not _trusted(hop_address, trusted):
            break
    return _named(client) if client is not None else None


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return any((mapped or address) in network for network in trusted)
