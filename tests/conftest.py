"""Fixtures shared by every test: a real server per database, and stubs to reach it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.support.databases import BACKENDS, database_url
from tests.support.server import ServerThread
from tracking.service.settings import Settings
from tracking.v1 import tracking_service_pb2_grpc

# Servers that tests start open no HTTP port unless the test asks for one (on port 0): the
# default, 127.0.0.1:8080, would be shared by every server of the run.
os.environ["TRACKING_HTTP_ADDRESS"] = ""


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with database_url(backend, tmp_path_factory.mktemp(backend)) as url:
        thread = ServerThread(
            Settings(
                address="127.0.0.1:0",
                http_address="127.0.0.1:0",
                database_url=url,
                heartbeat_seconds=0.5,
            )
        ).start()
        yield thread
        thread.stop()


@pytest.fixture(scope="session")
def channel(server: ServerThread) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.address) as channel:
        yield channel


@pytest.fixture(scope="session")
def stub(channel: grpc.Channel) -> tracking_service_pb2_grpc.TrackingServiceStub:
    return tracking_service_pb2_grpc.TrackingServiceStub(channel)


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A new empty database of the current backend, for a server of the test's own."""
    with database_url(backend, tmp_path) as url:
        yield url


ServerFactory = Callable[..., ServerThread]


@pytest.fixture
def make_server(fresh_database: str) -> Iterator[ServerFactory]:
    """Start servers of the test's own (on one fresh database) with chosen settings."""
    started: list[ServerThread] = []

    def start(**settings: Any) -> ServerThread:
        values: dict[str, Any] = {
            "address": "127.0.0.1:0",
            "database_url": fresh_database,
            "heartbeat_seconds": 0.5,
        }
        values.update(settings)
        thread = ServerThread(Settings(**values)).start()
        started.append(thread)
        return thread

    yield start
    for thread in started:
        if thread.app is not None:
            thread.stop()
