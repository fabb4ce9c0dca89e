"""What the Dockerfile promises, checked without a Docker engine: its HEALTHCHECK command
run against a live server configured as the image configures it, and its drain grace."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.certs import make_pki
from tests.support.chaos import free_address
from tests.support.image import final_stage, image_environment, instructions
from tests.support.process import TRACKING, ServerProcess

DOCKER_STOP_TIMEOUT = 10.0  # seconds docker stop waits before SIGKILL, by default


def healthcheck_command() -> list[str]:
    [rest] = [rest for name, rest in instructions() if name == "HEALTHCHECK"]
    match = re.search(r"CMD (\[.*\])$", rest)
    assert match is not None, rest
    command: list[str] = json.loads(match[1])
    assert command[0] == "tracking"
    return [str(TRACKING), *command[1:]]


def run_healthcheck(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRACKING_")}
    return subprocess.run(
        healthcheck_command(),
        capture_output=True,
        text=True,
        env={**clean, **environment},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "tls"])
def test_the_healthcheck_follows_the_servers_address_and_tls(
    fresh_database: str, tmp_path: Path, tls: bool
) -> None:
    # The image's settings, on another port (as an operator would set TRACKING_ADDRESS).
    environment = {**image_environment(), "TRACKING_METRICS_ADDRESS": ""}
    environment["TRACKING_ADDRESS"] = "0.0.0.0:" + free_address().rpartition(":")[2]
    if tls:
        ca, server_pem, _ = make_pki(tmp_path)
        environment |= {
            "TRACKING_TLS_CERT_FILE": str(server_pem.cert),
            "TRACKING_TLS_KEY_FILE": str(server_pem.key),
            "TRACKING_TLS_CA": str(ca.cert),
        }
    server = ServerProcess(fresh_database, environment["TRACKING_ADDRESS"], **environment)
    server.start()
    try:
        checked = run_healthcheck(environment)
        assert (checked.returncode, checked.stdout) == (0, "SERVING\n"), checked.stderr
    finally:
        server.kill()
    gone = run_healthcheck(environment)
    assert gone.returncode == 1
    assert "did not answer: UNAVAILABLE" in gone.stderr


def test_the_drain_ends_before_docker_stop_kills_the_server() -> None:
    grace = float(image_environment()["TRACKING_GRACE_SECONDS"])
    assert 0 < grace < DOCKER_STOP_TIMEOUT


def test_the_image_runs_the_server_with_the_allocator_it_installs() -> None:
    preload = image_environment()["LD_PRELOAD"]
    installs = " ".join(rest for name, rest in final_stage() if name == "RUN")
    assert preload == "libjemalloc.so.2"
    assert "apt-get install" in installs
    assert "libjemalloc2=" in installs
