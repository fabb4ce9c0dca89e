"""Whether an address is free for this server: no other server listens on it or holds it.

The workers of one server share its ports with SO_REUSEPORT, which any other process of
the same user may also set: two `serve --workers` on one address would both run and split
new connections between them. So before a server takes an address (its workers' parent
before it reserves the port for them) it binds it once without SO_REUSEPORT, which fails
while any other socket listens on that address or holds it. SO_REUSEADDR is set, as on
the listening sockets: connections of an earlier run in TIME_WAIT are no obstacle.
"""

from __future__ import annotations

import errno
import socket


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def cannot_listen(address: str, side: str, error: OSError) -> OSError:
    """The error a server reports when it cannot take an address."""
    if error.errno == errno.EADDRINUSE:
        return OSError(
            f"cannot listen on {address} ({side}): another server holds this address;"
            " stop it, or give this one another address",
        )
    return OSError(f"cannot listen on {address} ({side}): {error.strerror}")


def check_free(address: str, side: str) -> None:
    """OSError naming the address and the side (gRPC, HTTP) when another socket holds it."""
    host, port = _host_port(address)
    if port == 0:
        return  # the kernel picks a free port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise cannot_listen(address, side, error) from None
