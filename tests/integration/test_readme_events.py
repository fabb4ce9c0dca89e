"""The README's events example runs as printed: the subscription commands, the receiver that
verifies signatures, and the NATS consumer."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import grpc

from tests.conftest import ServerFactory
from tests.support.cli import tracking
from tests.support.factories import create_deployment, create_execution, start, stop
from tests.support.jetstream import fresh_subject
from tests.support.subscribing import deliveries
from tests.support.waiting import wait_for
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = README.read_text().split("## Events out", 1)[1].split("\n## ", 1)[0]


def _block(tag: str) -> str:
    found = re.search(rf"```{tag}\n(.*?)```", SECTION, re.DOTALL)
    assert found is not None, f"the README's events section has no {tag} block"
    return found.group(1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _commands() -> list[list[str]]:
    return [shlex.split(line) for line in _block("sh").splitlines() if line.strip()]


def _run_python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-u", "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    try:
        return process.stdout.readline().strip()
    finally:
        process.kill()
        process.communicate(timeout=10)


def test_the_webhook_example(make_server: ServerFactory) -> None:
    server = make_server(outbound_allow_private_addresses=True)
    stub = TrackingServiceStub(grpc.insecure_channel(server.address))
    port = _free_port()
    create = _commands()[0]
    create[create.index("--webhook") + 1] = f"http://127.0.0.1:{port}/"
    created = tracking(server.address, *create[1:], "--output", "json")
    assert created.returncode == 0, created.stderr
    secret = json.loads(created.stdout)["secret"]
    code = _block("python receiver").replace('"whsec_..."', repr(secret)).replace("8000", str(port))
    receiver = _run_python(code)
    execution = create_execution(stub)
    start(stub, execution.execution_id)
    stop(stub, execution.execution_id)
    line = _first_line(receiver)
    assert line == f"dev.tracking.execution.status_changed.v1 {execution.execution_id} SUCCESS"


def test_the_nats_example(make_server: ServerFactory) -> None:
    server = make_server()
    stub = TrackingServiceStub(grpc.insecure_channel(server.address))
    deployment = create_deployment(stub)
    create = _commands()[1]
    with fresh_subject() as subject:
        create[create.index("--nats") + 1] = subject
        create[create.index("--deployment") + 1] = deployment.name
        created = tracking(server.address, *create[1:], "--output", "json")
        assert created.returncode == 0, created.stderr
        subscription_id = json.loads(created.stdout)["subscription"]["subscription_id"]
        execution = create_execution(stub, deployment_name=deployment.name)
        start(stub, execution.execution_id)
        # The stream exists once the first event was published.
        wait_for(lambda: deliveries(stub, subscription_id), "the first publication")
        code = _block("python nats-consumer").replace('"jobs.>"', repr(f"{subject}.>"))
        consumer = _run_python(code)
        line = _first_line(consumer)
    assert line == f"dev.tracking.execution.created.v1 {execution.execution_id} WAITING"
