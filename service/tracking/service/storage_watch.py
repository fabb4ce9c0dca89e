"""Health follows the storage: NOT_SERVING while writes cannot succeed, SERVING once they can.

A write the database refuses (read-only, disk full) marks the store; this watch then tries
a write that changes nothing every few seconds, so the server recovers by itself when the
cause goes away. On SQLite it also notices a database file deleted or replaced under the
server, which no write would report.

The liveness name (LIVENESS, what an orchestrator's liveness probe asks for) turns
NOT_SERVING only for what a restart mends: a database file lost under the server. A
database that refuses writes is not mended by restarting every replica that uses it, so
the liveness name stays SERVING while the others say NOT_SERVING.
"""

from __future__ import annotations

import asyncio
import logging

from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer

from tracking.service.store.database import Database

log = logging.getLogger("tracking.storage")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class StorageWatch:
    def __init__(
        self, db: Database, health: HealthServicer, services: list[str], liveness: str
    ) -> None:
        self.db = db
        self.health = health
        self.services = services
        self.liveness = liveness
        self.problem: str | None = None

    async def check(self) -> str | None:
        """The reason writes cannot succeed now, or None."""
        lost = self.db.check_file()
        if lost:
            return lost
        problem = self.db.write_problem
        if problem:
            try:
                if not await self.db.probe_write():
                    return problem
            except Exception:  # still refused: write_problem says why
                return self.db.write_problem
        return None

    async def update(self) -> None:
        problem = await self.check()
        if problem == self.problem:
            return
        if problem:
            log.error("NOT_SERVING: %s", problem)
        else:
            log.info("SERVING again: the database takes writes")
        self.problem = problem
        for name in self.services:
            await self.health.set(name, NOT_SERVING if problem else SERVING)
        await self.health.set(self.liveness, NOT_SERVING if self.db.file_lost else SERVING)

    async def run_forever(self, every_seconds: float) -> None:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await self.update()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("checking the storage failed; trying again later")
