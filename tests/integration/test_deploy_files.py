"""What deploy/ promises, checked without Docker or a cluster (`make lint` checks the files'
shape against their schemas; this checks what they say).

A replica run as the Kubernetes Deployment runs it: the image's entry point with the
Deployment's arguments, the image's environment with the Deployment's, as its user, with no
capabilities, on a read-only root filesystem where only its volumes are writable. It must
serve on PostgreSQL, with auth on as a pod's wildcard address turns it on, and each probe
must find the health it asks for without a token. Then the static promises: the drain
fits the termination grace period, the Services, the budget and the autoscaler find the
Deployment, the Compose file's replicas are the ones nginx.conf sends to, and PostgreSQL
has the connections the replicas may hold.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.chaos import free_address
from tests.support.databases import postgres_database
from tests.support.environment import cannot_run
from tests.support.image import entrypoint, image_environment, the
from tests.support.process import SERVING, TRACKING
from tracking.service.app import LIVENESS, SERVICE_NAME
from tracking.service.store.database import Database
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DOCS = Path(__file__).resolve().parents[2] / "docs"
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
# What the server needs after TRACKING_GRACE_SECONDS: a second for responses still being
# sent (server.stop(1.0)), then closing the HTTP side and the store.
AFTER_GRACE_SECONDS = 2


def manifests() -> dict[str, dict[str, Any]]:
    """Every object of deploy/kubernetes by kind (and Services by name)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            kind = document["kind"]
            key = f"Service/{document['metadata']['name']}" if kind == "Service" else kind
            assert key not in found, f"two {key} in deploy/kubernetes"
            found[key] = document
    return found


def container() -> dict[str, Any]:
    [only] = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = only
    return found


def container_port(name: str) -> int:
    [port] = [p["containerPort"] for p in container()["ports"] if p["name"] == name]
    return int(port)


def image_port(variable: str) -> int:
    return int(image_environment()[variable].rpartition(":")[2])


def deployment_environment(database_url: str) -> dict[str, str]:
    """The image's environment with the Deployment's on top; the Secret's database URL is
    the test's (the example Secret must name the key the Deployment reads)."""
    secret = manifests()["Secret"]
    values = image_environment()
    for variable in container()["env"]:
        if "value" in variable:
            values[variable["name"]] = variable["value"]
            continue
        reference = variable["valueFrom"]["secretKeyRef"]
        assert reference["name"] == secret["metadata"]["name"]
        assert reference["key"] in secret["stringData"]
        assert variable["name"] == "TRACKING_DATABASE_URL"
        values[variable["name"]] = database_url
    return values


def grace_seconds(environment: dict[str, str]) -> float:
    return float(environment["TRACKING_GRACE_SECONDS"])


def sandboxed(command: list[str], user: int, group: int) -> list[str]:
    """`command` in a mount namespace of its own whose root filesystem is read-only, with a
    fresh writable /tmp (the pod's emptyDir volumes: /tmp, and HOME as /tmp/data), as
    `user`:`group` with no capability and no way to gain one."""
    # A checkout (and its .venv) under /tmp would be hidden by the fresh /tmp: it is kept
    # on /mnt meanwhile and bound back to its place.
    kept = {
        Path("/tmp", path.relative_to("/tmp").parts[0])
        for path in (Path(__file__).resolve(), Path(sys.prefix).resolve())
        if path.is_relative_to("/tmp")
    }
    assert len(kept) <= 1, f"one checkout under /tmp at most: {kept}"
    keep = restore = ""
    for checkout in kept:
        keep = f"mount --bind {checkout} /mnt && "
        restore = f" && mkdir -p {checkout} && mount --bind /mnt {checkout}"
    script = (
        f"{keep}mount -o remount,bind,ro / && mount -t tmpfs -o mode=1777 tmpfs /tmp"
        f"{restore} && mkdir -m 1777 /tmp/data && cd /tmp/data"
        f" && exec setpriv --reuid {user} --regid {group} --clear-groups"
        ' --inh-caps=-all --bounding-set=-all --no-new-privs "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command]


def require_sandbox() -> None:
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("setpriv")):
        cannot_run("a read-only root filesystem for the replica needs root, unshare and setpriv")
    probe = subprocess.run(sandboxed(["true"], 10001, 10001), capture_output=True, text=True)
    if probe.returncode != 0:
        cannot_run(f"cannot make a mount namespace here: {probe.stderr.strip()}")


def health(address: str, service: str) -> int:
    with grpc.insecure_channel(address) as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=10
        )
    return int(response.status)


@pytest.mark.postgres
def test_a_replica_run_as_the_deployment_runs_it_serves_and_passes_its_probes() -> None:
    require_sandbox()
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    security = {**pod["securityContext"], **container()["securityContext"]}
    assert security["runAsNonRoot"]
    assert security["readOnlyRootFilesystem"]
    assert not security["allowPrivilegeEscalation"]
    assert security["capabilities"]["drop"] == ["ALL"]
    # The places the server writes (its HOME and working directory) are volumes.
    mounts = {mount["mountPath"] for mount in container()["volumeMounts"]}
    assert {image_environment()["HOME"], the("WORKDIR"), "/tmp"} <= mounts
    command = [str(TRACKING), *entrypoint()[1:], *container()["args"]]
    assert entrypoint()[0] == "tracking"
    metrics = free_address()
    with postgres_database() as url:
        environment = deployment_environment(url) | {
            # A pod listens on every address, which turns auth on: so does this.
            "TRACKING_AUTH": "on",
            "TRACKING_ADDRESS": "127.0.0.1:0",
            "TRACKING_HTTP_ADDRESS": "127.0.0.1:0",
            "TRACKING_METRICS_ADDRESS": metrics,
            "HOME": "/tmp/data",
        }
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKING_", "OTEL_"))}
        process = subprocess.Popen(
            sandboxed(command, security["runAsUser"], security["runAsGroup"]),
            stderr=subprocess.PIPE,
            text=True,
            env=clean | environment,
        )
        output: list[str] = []
        serving = threading.Event()
        address: list[str] = []

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                output.append(line)
                match = SERVING.search(line)
                if match and not serving.is_set():
                    address.append(f"{match[1]}:{match[2]}")
                    serving.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert serving.wait(120), "".join(output)
            # Each probe asks, with no token, for a name the health service knows.
            for kind in PROBES:
                probe = container()[kind]["grpc"]
                assert probe["port"] == container_port("grpc") == image_port("TRACKING_ADDRESS")
                status = health(address[0], probe.get("service", ""))
                assert status == health_pb2.HealthCheckResponse.SERVING, kind
            with grpc.insecure_channel(address[0]) as channel, pytest.raises(grpc.RpcError) as no:
                TrackingServiceStub(channel).ListExecutions(pb.ListExecutionsRequest(), timeout=10)
            assert no.value.code() == grpc.StatusCode.UNAUTHENTICATED
            with urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10) as response:
                assert b"tracking_" in response.read()
            # The preStop hook's command runs as the container runs.
            pre_stop = container()["lifecycle"]["preStop"]["exec"]["command"]
            hook = subprocess.run(
                sandboxed(pre_stop, security["runAsUser"], security["runAsGroup"]),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert hook.returncode == 0, hook.stderr
            process.send_signal(signal.SIGTERM)
            assert process.wait(120) == 0, "".join(output)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(30)
        reader.join(30)
    assert [line for line in output if "Read-only file system" in line] == []
    assert [line for line in output if "unexpected error" in line] == []


def test_the_probes_ask_for_readiness_and_liveness_by_name() -> None:
    assert container()["readinessProbe"]["grpc"]["service"] == SERVICE_NAME
    assert container()["livenessProbe"]["grpc"]["service"] == LIVENESS


def test_the_drain_fits_the_termination_grace_period() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    pre_stop = container()["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    waited = float(pre_stop[1])
    grace = grace_seconds(deployment_environment("postgresql://"))
    assert waited + grace + AFTER_GRACE_SECONDS < pod["terminationGracePeriodSeconds"]


def test_the_services_budget_and_autoscaler_find_the_deployment() -> None:
    found = manifests()
    deployment = found["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    names = {port["name"] for port in container()["ports"]}
    for name, variable in (("grpc", "TRACKING_ADDRESS"), ("http", "TRACKING_HTTP_ADDRESS")):
        service = found[f"Service/tracking-{name}"]["spec"]
        assert service["selector"].items() <= labels.items()
        [port] = service["ports"]
        assert port["targetPort"] in names
        assert container_port(port["targetPort"]) == image_port(variable)
    assert container_port("metrics") == image_port("TRACKING_METRICS_ADDRESS")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == container_port("metrics")
    budget = found["PodDisruptionBudget"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    autoscaler = found["HorizontalPodAutoscaler"]["spec"]
    assert autoscaler["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert autoscaler["minReplicas"] <= deployment["spec"]["replicas"]
    # CPU utilization is counted against the request: without one the autoscaler is blind.
    assert container()["resources"]["requests"]["cpu"]
    user = int(the("USER").split(":")[0])
    assert (
        manifests()["Deployment"]["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
        == user
    )


def connections_per_replica() -> int:
    """What one replica process may hold open on PostgreSQL: SQLAlchemy's pool and its
    overflow, the asyncpg pool of the hot statements, and the connection that LISTENs."""
    database = Database("postgresql://nobody@127.0.0.1:1/none")
    pool: Any = database.read_engine.pool
    assert database.write_engine is database.read_engine
    driver: Any = database.driver
    return int(pool.size() + pool._max_overflow + driver._max_size + 1)


def compose() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return found


def test_compose_sends_nginx_to_its_replicas_and_gives_postgresql_their_connections() -> None:
    services = compose()["services"]
    replicas = sorted(name for name, service in services.items() if "build" in service)
    upstream = sorted(
        set(
            re.findall(
                r"^\s*server (tracking-\d+):\d+",
                (DEPLOY / "nginx" / "nginx.conf").read_text(),
                re.MULTILINE,
            )
        )
    )
    assert replicas == upstream == ["tracking-1", "tracking-2", "tracking-3"]
    nginx = services["nginx"]
    assert (DEPLOY / nginx["volumes"][0].split(":")[0]).resolve() == (
        DEPLOY / "nginx" / "nginx.conf"
    )
    address = nginx["networks"]["default"]["ipv4_address"]
    for name in replicas:
        environment = services[name]["environment"]
        assert environment["TRACKING_TRUSTED_PROXIES"] == address
        # The drain ends before Compose kills the replica.
        stop = int(services[name]["stop_grace_period"].removesuffix("s"))
        assert grace_seconds(environment) + AFTER_GRACE_SECONDS < stop
        assert (DEPLOY / services[name]["build"]["context"] / "Dockerfile").exists()
    command = services["postgres"]["command"]
    max_connections = int(command[command.index("-c") + 1].removeprefix("max_connections="))
    assert max_connections > len(replicas) * connections_per_replica()


def test_the_deploy_guide_states_the_connections_a_replica_holds() -> None:
    text = " ".join((DOCS / "deploy.md").read_text().split())
    assert f"up to {connections_per_replica()} connections" in text
