"""A server refuses to start on an address another server holds, with a message that says
so: `serve` and `serve --workers` alike (SO_REUSEPORT is shared among a server's own
workers only)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.databases import postgres_database
from tests.support.process import TRACKING, ServerProcess

IN_USE = "another server holds this address"


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    """`tracking serve` that should refuse to start: its exit code and message."""
    try:
        return subprocess.run(
            [str(TRACKING), "serve", *args], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired as still_running:
        pytest.fail(f"the second server started and kept running: {still_running.stderr!r}")


def test_a_second_serve_on_a_held_address_fails_saying_so(tmp_path: Path) -> None:
    first = ServerProcess(f"sqlite:///{tmp_path / 'first.db'}", http_address="127.0.0.1:0").start()
    try:
        http_address = first.http_url.removeprefix("http://")
        database = f"sqlite:///{tmp_path / 'second.db'}"
        grpc_taken = serve(
            "--address", first.address, "--http-address", "", "--database-url", database
        )
        assert grpc_taken.returncode == 1
        assert f"cannot listen on {first.address} (gRPC): {IN_USE}" in grpc_taken.stderr
        http_taken = serve(
            "--address", "127.0.0.1:0", "--http-address", http_address, "--database-url", database
        )
        assert http_taken.returncode == 1
        assert f"cannot listen on {http_address} (HTTP): {IN_USE}" in http_taken.stderr
    finally:
        first.kill()


def test_a_second_serve_with_workers_does_not_join_the_first_ones_port() -> None:
    with postgres_database() as first_url, postgres_database() as second_url:
        first = ServerProcess(
            first_url,
            http_address="127.0.0.1:0",
            serve_args=("--workers", "2"),
            TRACKING_GRACE_SECONDS="0",
        ).start()
        try:
            http_address = first.http_url.removeprefix("http://")
            for address, http, side, taken in [
                (first.address, "", "gRPC", first.address),
                ("127.0.0.1:0", http_address, "HTTP", http_address),
            ]:
                second = serve(
                    "--workers",
                    "2",
                    "--address",
                    address,
                    "--http-address",
                    http,
                    "--database-url",
                    second_url,
                )
                assert second.returncode == 1, second.stderr
                assert f"cannot listen on {taken} ({side}): {IN_USE}" in second.stderr
            # Nor does a plain server join the workers' port.
            plain = serve(
                "--address", first.address, "--http-address", "", "--database-url", second_url
            )
            assert plain.returncode == 1
            assert IN_USE in plain.stderr
        finally:
            first.terminate()
