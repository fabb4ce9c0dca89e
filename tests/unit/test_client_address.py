"""The client address read through trusted proxies' headers, and only theirs."""

from __future__ import annotations

import pytest

from tracking.service.domain.client_address import client_host, networks

TRUSTED = networks("10.0.0.0/8, 2001:db8:1::/48")


def client(
    peer: str, forwarded: tuple[str, ...] = (), forwarded_for: tuple[str, ...] = ()
) -> str | None:
    return client_host(peer, forwarded=forwarded, forwarded_for=forwarded_for, trusted=TRUSTED)


def test_headers_from_a_peer_that_is_not_a_trusted_proxy_are_ignored() -> None:
    assert client("ipv4:192.0.2.1:5000", forwarded_for=("198.51.100.7",)) is None
    assert client("ipv6:[::1]:5000", forwarded=("for=198.51.100.7",)) is None
    assert client("unix:/tmp/socket", forwarded_for=("198.51.100.7",)) is None


def test_the_rightmost_address_that_is_not_a_trusted_proxy_is_the_client() -> None:
    # The leftmost entries are the client's to write: only those the proxies appended count.
    chain = ("6.6.6.6, 198.51.100.7", "10.1.2.3")
    assert client("ipv4:10.0.0.1:5000", forwarded_for=chain) == "ipv4:198.51.100.7"
    assert client("ipv4:10.0.0.1:5000", forwarded_for=("10.9.9.9, 10.1.1.1",)) == "ipv4:10.9.9.9"


def test_forwarded_wins_over_x_forwarded_for_and_names_ipv6_clients() -> None:
    assert (
        client(
            "ipv6:[2001:db8:1::5]:443",
            forwarded=('for="[2001:db8:2::7]:4711";proto=https, for=10.0.0.3',),
            forwarded_for=("198.51.100.7",),
        )
        == "ipv6:[2001:db8:2::7]"
    )
    assert client("ipv4:10.0.0.1:80", forwarded=("for=198.51.100.7:80",)) == "ipv4:198.51.100.7"


def test_an_unknown_hop_leaves_the_proxy_after_it_as_the_client() -> None:
    assert client("ipv4:10.0.0.1:80", forwarded=("for=unknown, for=10.0.0.2",)) == "ipv4:10.0.0.2"
    assert client("ipv4:10.0.0.1:80", forwarded_for=("not-an-address",)) is None


def test_a_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300' is not an IP address or network"):
        networks("10.0.0.0/8, 10.0.0.300")
