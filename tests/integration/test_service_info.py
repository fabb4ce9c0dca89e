"""GetServiceInfo: the version and limits a client adapts to, for any reader."""

from __future__ import annotations

from importlib import metadata

from tests.conftest import ServerFactory
from tests.support.factories import new_token
from tracking.client import TrackingClient


def test_service_info_tells_the_servers_own_limits(make_server: ServerFactory) -> None:
    server = make_server(max_log_line=1000, max_log_batch=20, heartbeat_timeout_seconds=90.5)
    with TrackingClient(server.address) as client:
        info = client.service_info()
    assert info.version == metadata.version("tracking")
    assert info.max_log_line_chars == 1000
    assert info.max_log_batch_lines == 20
    assert info.max_message_bytes == 4 * 1024 * 1024
    assert info.default_heartbeat_timeout.ToTimedelta().total_seconds() == 90.5


def test_a_reader_may_ask(make_server: ServerFactory) -> None:
    server = make_server(auth="on", max_message_bytes=8 * 1024 * 1024)
    _, secret = new_token(server, "READER")
    with TrackingClient(server.address, token=secret) as client:
        info = client.service_info()
    assert info.max_message_bytes == 8 * 1024 * 1024
    assert info.default_heartbeat_timeout.ToTimedelta().total_seconds() == 600
