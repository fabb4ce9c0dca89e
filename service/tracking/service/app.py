"""Assemble the server, serve, and drain on SIGTERM / SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from datetime import timedelta

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from tracking.service.api.registration import register
from tracking.service.api.servicer import TrackingServicer
from tracking.service.errors import ErrorInterceptor
from tracking.service.events.hub import EventHub
from tracking.service.events.postgres import PostgresBridge
from tracking.service.operations.deployments import Deployments
from tracking.service.operations.executions import Executions
from tracking.service.operations.logs import Logs
from tracking.service.operations.retention import Retention
from tracking.service.operations.streams import Streams
from tracking.service.settings import Settings
from tracking.service.store.database import Database
from tracking.v1 import tracking_service_pb2

log = logging.getLogger("tracking")
SERVICE_NAME = tracking_service_pb2.DESCRIPTOR.services_by_name["TrackingService"].full_name


@dataclass
class TrackingApp:
    """A started server and what it owns."""

    server: grpc.aio.Server
    port: int
    database: Database
    hub: EventHub
    health: HealthServicer
    retention: Retention
    bridge: PostgresBridge | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self, grace: float | None = None) -> None:
        """Drain: NOT_SERVING, end the streams (UNAVAILABLE), let unary calls finish, close the store."""
        await self.health.enter_graceful_shutdown()
        await self.hub.close()
        await self.server.stop(grace)
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.bridge is not None:
            await self.bridge.stop()
        await self.database.close()


async def create_server(settings: Settings) -> tuple[TrackingApp, int]:
    """Migrate the database, build the server, bind and start it; returns (app, bound port)."""
    database = Database(settings.database_url)
    await database.start()
    hub = EventHub(
        queue_capacity=settings.watcher_queue,
        max_watchers_per_principal=settings.max_watchers_per_principal,
        heartbeat_seconds=settings.heartbeat_seconds,
    )
    hub.start()
    bridge = None
    if database.dialect == "postgresql":
        bridge = PostgresBridge(database.url, hub, database.replica_id)
        await bridge.start()
    limits = settings.limits()
    servicer = TrackingServicer(
        deployments=Deployments(database, hub, limits),
        executions=Executions(database, hub, limits),
        logs=Logs(database, hub, limits),
        streams=Streams(database, hub, limits),
    )
    server = grpc.aio.server(
        interceptors=[ErrorInterceptor()],
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    register(servicer, server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [SERVICE_NAME, health.SERVICE_NAME]
    if settings.reflection:
        names.append(reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)
    try:
        port = server.add_insecure_port(settings.address)
    except RuntimeError as error:
        if bridge is not None:
            await bridge.stop()
        await database.close()
        raise OSError(f"cannot listen on {settings.address}: {error}") from None
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    retention = Retention(database, timedelta(seconds=settings.retention_seconds))
    app = TrackingApp(server, port, database, hub, health_servicer, retention, bridge)
    app.tasks.append(asyncio.create_task(retention.run_forever(settings.retention_sweep_seconds)))
    return app, port


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then drain and return."""
    app, port = await create_server(settings)
    host = settings.address.rsplit(":", 1)[0]
    log.info("tracking serving on %s:%d (database: %s)", host, port, app.database.dialect)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining (grace %.1fs)", settings.grace_seconds)
    await app.stop(settings.grace_seconds)
    log.info("stopped")
