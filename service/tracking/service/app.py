"""Assemble the server, serve, and drain on SIGTERM / SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from tracking.service import ports
from tracking.service.api.registration import compose, register
from tracking.service.api.servicer import TrackingServicer
from tracking.service.api.stored_executions import stored_form, with_job_status
from tracking.service.auth import AuthInterceptor, RateLimiter
from tracking.service.collector import settle_after_startup
from tracking.service.domain.subscriptions import RetrySchedule
from tracking.service.drain import DrainInterceptor
from tracking.service.errors import ErrorInterceptor
from tracking.service.events.hub import EventHub
from tracking.service.events.postgres import PostgresBridge
from tracking.service.http.server import HttpServer
from tracking.service.observability import Metrics, ObservabilityInterceptor
from tracking.service.operations.deployments import Deployments
from tracking.service.operations.executions import Executions
from tracking.service.operations.leases import LeaseSweeper
from tracking.service.operations.logs import Logs
from tracking.service.operations.metrics import Metrics as MetricPoints
from tracking.service.operations.outbox import Outbox
from tracking.service.operations.recording import Recorder
from tracking.service.operations.retention import Retention
from tracking.service.operations.streams import Streams
from tracking.service.operations.subscriptions import Subscriptions
from tracking.service.operations.tokens import Tokens
from tracking.service.outbound.dispatcher import DeliveryPolicy, Dispatcher
from tracking.service.outbound.nats_publisher import NatsPublisher
from tracking.service.outbound.webhook import WebhookSender
from tracking.service.settings import Settings
from tracking.service.storage_watch import StorageWatch
from tracking.service.store.database import Database
from tracking.service.store.statement_timing import time_statements
from tracking.service.tracing import Tracing
from tracking.service.tracing import start as start_tracing
from tracking.v1 import tracking_service_pb2

log = logging.getLogger("tracking")
SERVICE_NAME = tracking_service_pb2.DESCRIPTOR.services_by_name["TrackingService"].full_name
# The health name for liveness probes: NOT_SERVING only when a restart would help
# (storage_watch.py) and while the server drains.
LIVENESS = "liveness"


@dataclass
class TrackingApp:
    """A started server and what it owns."""

    server: grpc.aio.Server
    port: int
    database: Database
    hub: EventHub
    health: HealthServicer
    retention: Retention
    leases: LeaseSweeper
    tokens: Tokens
    metrics: Metrics
    drain: DrainInterceptor
    bridge: PostgresBridge | None = None
    metrics_port: int = 0
    http: HttpServer | None = None
    tracing: Tracing | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self, grace: float | None = None) -> None:
        """Drain: NOT_SERVING, refuse new calls and end the streams (UNAVAILABLE), let the
        calls in flight finish within the grace period, close the port, close the store."""
        await self.health.enter_graceful_shutdown()
        self.drain.start_draining()
        # No lease may lapse while the heartbeats that would renew it are refused.
        await self._stop_tasks()
        await self.hub.close()
        grace = 10.0 if grace is None else grace
        if not await self.drain.wait_until_quiet(grace):
            log.warning("%d calls still running after the grace period", self.drain.in_flight)
        # Responses still being sent get a moment; anything left is cancelled.
        await self.server.stop(1.0)
        if self.http is not None:
            await self.http.stop()
        if self.bridge is not None:
            await self.bridge.stop()
        self.metrics.stop()
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.shutdown)
        await self.database.close()

    async def _stop_tasks(self) -> None:
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def server_options(settings: Settings, reuse_port: bool = False) -> list[tuple[str, int]]:
    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.max_concurrent_streams", settings.max_concurrent_streams),
        # What HTTP/2 advertises; gRPC core still hands larger metadata to handlers, which
        # the auth wrapper refuses before any work (RESOURCE_EXHAUSTED).
        ("grpc.max_metadata_size", settings.max_metadata_bytes),
        ("grpc.keepalive_time_ms", int(settings.keepalive_seconds * 1000)),
        ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_seconds * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        # Clients may ping as often as we do; more often is abuse and is refused.
        (
            "grpc.http2.min_ping_interval_without_data_ms",
            int(settings.keepalive_seconds * 1000 / 2),
        ),
        # Only `serve --workers` shares its port; otherwise a second server on it is an error.
        ("grpc.so_reuseport", int(reuse_port)),
        # A connection that never sends its HTTP/2 preface holds a file descriptor: close it.
        ("grpc.server_handshake_timeout_ms", int(settings.handshake_timeout_seconds * 1000)),
        ("grpc.max_allowed_incoming_connections", connection_cap(settings.max_connections)),
        # Calls that arrive in a burst wait here until the server loop takes them; the
        # defaults (1000 waiting) leave a burst of thousands of stream opens hanging.
        ("grpc.server.max_pending_requests", settings.max_concurrent_streams * 10),
        ("grpc.server.max_pending_requests_hard_limit", settings.max_concurrent_streams * 20),
    ]
    if settings.max_connection_age_seconds:
        options += [
            ("grpc.max_connection_age_ms", int(settings.max_connection_age_seconds * 1000)),
            ("grpc.max_connection_age_grace_ms", int(settings.grace_seconds * 1000)),
        ]
    return options


# File descriptors kept for the database, the metrics port, logs and the process itself.
RESERVED_DESCRIPTORS = 256


def raise_descriptor_limit() -> int:
    """Raise this process's open-file limit to its hard limit; returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def connection_cap(wanted: int) -> int:
    """`wanted`, unless the descriptor limit leaves room for fewer connections."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    room = soft - RESERVED_DESCRIPTORS if soft != resource.RLIM_INFINITY else wanted
    if room < wanted:
        log.warning(
            "max_connections %d lowered to %d: the open-file limit is %d", wanted, room, soft
        )
    return max(1, min(wanted, room))


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    if not settings.tls_cert_file:
        return None
    key = Path(settings.tls_key_file).read_bytes()
    cert = Path(settings.tls_cert_file).read_bytes()
    client_ca = (
        Path(settings.tls_client_ca_file).read_bytes() if settings.tls_client_ca_file else None
    )
    return grpc.ssl_server_credentials(
        [(key, cert)],
        root_certificates=client_ca,
        require_client_auth=settings.tls_require_client_cert,
    )


async def create_server(settings: Settings, reuse_port: bool = False) -> tuple[TrackingApp, int]:
    """Migrate the database, build the server, bind and start it; returns (app, bound port).
    With `reuse_port`, its ports are shared with the other workers (workers.py)."""
    if not reuse_port:  # the workers' parent checked and holds their ports
        ports.check_free(settings.address, "gRPC")
        if settings.http_address:
            ports.check_free(settings.http_address, "HTTP")
    credentials = server_credentials(settings)
    database = Database(settings.database_url)
    await database.start()
    hub = EventHub(
        queue_capacity=settings.watcher_queue,
        max_watchers_per_principal=settings.max_watchers_per_principal,
        heartbeat_seconds=settings.heartbeat_seconds,
        backlog_chars=settings.watcher_log_backlog,
    )
    limits = settings.limits()
    recorder = Recorder(database, stored_form, with_job_status)
    logs = Logs(database, hub, limits, recorder)
    tokens = Tokens(database, cache_seconds=settings.token_cache_seconds)
    executions = Executions(database, hub, limits, recorder)
    subscriptions = Subscriptions(database, settings.outbound_allow_private_addresses)
    streams = Streams(database, hub, limits)
    servicer = TrackingServicer(
        deployments=Deployments(database, hub, limits, recorder),
        executions=executions,
        logs=logs,
        metrics=MetricPoints(database, hub, limits, recorder, streams),
        streams=streams,
        tokens=tokens,
        subscriptions=subscriptions,
        limits=limits,
    )
    metrics = Metrics()
    metrics.watch(hub, lambda: logs.lines_written)
    time_statements([database.read_engine, database.write_engine], metrics.db_latency.observe)
    server = grpc.aio.server(options=server_options(settings, reuse_port))
    # Outermost first; applied to each method once, at registration (see wrapping.py).
    drain = DrainInterceptor()
    auth = AuthInterceptor(
        tokens,
        required=settings.auth_required,
        limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        failure_limiter=RateLimiter(settings.auth_failures_per_second, settings.auth_failure_burst),
        trusted_proxies=settings.trusted_proxy_networks,
        recheck_seconds=settings.stream_recheck_seconds,
        max_metadata_bytes=settings.max_metadata_bytes,
    )
    interceptors = [
        ObservabilityInterceptor(metrics),
        drain,
        auth,
        ErrorInterceptor(),
    ]
    tracing = start_tracing()  # None unless the OTEL_* variables configure an exporter
    if tracing is not None:
        interceptors.insert(0, tracing.interceptor)
        tracing.count_in(metrics.registry)
    methods = compose(servicer, interceptors)
    register(methods, server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        reflection.enable_server_reflection(
            [SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
    try:
        if credentials is None:
            port = server.add_insecure_port(settings.address)
        else:
            port = server.add_secure_port(settings.address, credentials)
    except RuntimeError as error:
        if tracing is not None:
            tracing.shutdown()
        await database.close()
        raise OSError(f"cannot listen on {settings.address}: {error}") from None
    try:
        http = (
            HttpServer(
                methods,
                settings,
                reuse_port=reuse_port,
                max_connections=connection_cap(settings.max_connections),
                identify=auth.identify if settings.auth_required else None,
            )
            if settings.http_address
            else None
        )
    except OSError:
        await server.stop(None)
        if tracing is not None:
            tracing.shutdown()
        await database.close()
        raise
    bridge = None
    if database.dialect == "postgresql":
        bridge = PostgresBridge(database.url, hub, database.replica_id)
        await bridge.start()
    metrics_port = metrics.serve(settings.metrics_address) if settings.metrics_address else 0
    hub.start()
    await server.start()
    if http is not None:
        await http.start()
    for name in ("", SERVICE_NAME, LIVENESS):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    retention = Retention(database, timedelta(seconds=settings.retention_seconds))
    dispatcher = dispatcher_of(settings, database, hub)
    subscriptions.tester = dispatcher
    sweeper = LeaseSweeper(database, executions.mark_lapsed)
    app = TrackingApp(
        server,
        port,
        database,
        hub,
        health_servicer,
        retention,
        sweeper,
        tokens,
        metrics,
        drain,
        bridge,
        metrics_port,
        http,
        tracing,
    )
    app.tasks.append(asyncio.create_task(dispatcher.run_forever(), name="outbound"))
    app.tasks.append(asyncio.create_task(retention.run_forever(settings.retention_sweep_seconds)))
    watch = StorageWatch(database, health_servicer, ["", SERVICE_NAME], LIVENESS)
    app.tasks.append(asyncio.create_task(watch.run_forever(settings.storage_check_seconds)))
    # Leases that ran out while no server was running are marked at once.
    app.tasks.append(asyncio.create_task(sweeper.run_forever(settings.lease_sweep_seconds)))
    return app, port


def dispatcher_of(settings: Settings, database: Database, hub: EventHub) -> Dispatcher:
    """The dispatcher of subscriptions' events, holding leases as this replica."""
    lease = timedelta(seconds=settings.outbound_lease_seconds)
    return Dispatcher(
        Outbox(database, database.replica_id, lease),
        hub,
        DeliveryPolicy(
            source=settings.events_source,
            parallelism=settings.outbound_parallelism,
            max_age_seconds=settings.outbound_max_age_seconds,
            schedule=RetrySchedule(
                settings.outbound_retry_base_seconds, settings.outbound_retry_max_seconds
            ),
        ),
        WebhookSender(
            settings.outbound_allow_private_addresses,
            settings.outbound_connect_timeout_seconds,
            settings.outbound_timeout_seconds,
        ),
        NatsPublisher(
            settings.nats_url, settings.nats_create_streams, settings.outbound_timeout_seconds
        ),
        settings.outbound_lease_seconds,
    )


async def serve(
    settings: Settings, reuse_port: bool = False, on_ready: Callable[[], None] | None = None
) -> None:
    """Run until SIGTERM or SIGINT, then drain and return. A worker of `serve --workers`
    shares its ports and calls `on_ready` once it serves (the parent says where)."""
    raise_descriptor_limit()
    app, port = await create_server(settings, reuse_port)
    settle_after_startup()
    # Before the server says it serves: a SIGTERM sent as soon as it does is a drain.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    host = settings.address.rsplit(":", 1)[0]
    if on_ready is not None:
        log.info("worker %d ready (database: %s)", os.getpid(), app.database.dialect)
        on_ready()
    elif app.http is not None:
        http_host = settings.http_address.rsplit(":", 1)[0]
        scheme = "https" if settings.tls_cert_file else "http"
        log.info("HTTP and dashboard on %s://%s:%d/", scheme, http_host, app.http.port)
    if on_ready is None:
        log.info(
            "tracking serving on %s:%d (database: %s, %s, auth %s)",
            host,
            port,
            app.database.dialect,
            "TLS" if settings.tls_cert_file else "plaintext",
            "on" if settings.auth_required else "off",
        )
    if not settings.auth_required and not settings.loopback_only:
        log.warning(
            "auth is OFF on %s: anyone who can reach this address can read and write",
            settings.address,
        )
    await stop.wait()
    log.info("draining (grace %.1fs)", settings.grace_seconds)
    await app.stop(settings.grace_seconds)
    log.info("stopped")
