"""NATS JetStream: an event published to its subject with Nats-Msg-Id = the CloudEvent id,
so JetStream drops a redelivery inside its duplicate window; acknowledged or failed."""

from __future__ import annotations

import asyncio
import logging
import time

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from tracking.service.domain.subscriptions import stream_name
from tracking.service.outbound.attempts import Outcome
from tracking.service.outbound.cloud_events import CONTENT_TYPE

log = logging.getLogger("tracking.outbound")


async def _quiet(error: Exception) -> None:
    """The broker's errors show in the delivery log, not once per reconnection in the
    server's log."""
    log.debug("NATS: %s", error)


class NatsPublisher:
    def __init__(self, url: str, create_streams: bool, timeout: float) -> None:
        self.url = url
        self.create_streams = create_streams
        self.timeout = timeout
        self._client: Client | None = None
        self._jetstream: JetStreamContext | None = None
        self._connecting = asyncio.Lock()
        self._streams_known: set[str] = set()

    async def _connected(self) -> JetStreamContext:
        async with self._connecting:
            if self._jetstream is None or self._client is None or self._client.is_closed:
                # A few reconnections, then the client closes and the next publication
                # connects anew (a failed attempt in between, retried like any other).
                self._client = await nats.connect(
                    servers=[self.url],
                    connect_timeout=self.timeout,
                    max_reconnect_attempts=3,
                    reconnect_time_wait=0.5,
                    error_cb=_quiet,
                )
                self._jetstream = self._client.jetstream(timeout=self.timeout)
                self._streams_known.clear()
            return self._jetstream

    async def _ensure_stream(self, jetstream: JetStreamContext, prefix: str) -> None:
        if prefix in self._streams_known:
            return
        try:
            await jetstream.find_stream_name_by_subject(f"{prefix}.any.any")
        except NotFoundError:
            if not self.create_streams:
                raise
            await jetstream.add_stream(name=stream_name(prefix), subjects=[f"{prefix}.>"])
        self._streams_known.add(prefix)

    async def publish(self, prefix: str, subject: str, message_id: str, body: bytes) -> Outcome:
        started = time.perf_counter()
        try:
            jetstream = await self._connected()
            await self._ensure_stream(jetstream, prefix)
            await jetstream.publish(
                subject,
                body,
                timeout=self.timeout,
                headers={"Nats-Msg-Id": message_id, "content-type": CONTENT_TYPE},
            )
        except NotFoundError:
            return Outcome(
                False,
                time.perf_counter() - started,
                error=f"no JetStream stream holds {subject} (stream creation is off)",
            )
        except Exception as error:  # every failure of the broker is a failed attempt, retried
            return Outcome(
                False,
                time.perf_counter() - started,
                error=f"{type(error).__name__}: {error}"[:300],
            )
        return Outcome(True, time.perf_counter() - started)

    async def close(self) -> None:
        if self._client is not None and not self._client.is_closed:
            await self._client.close()
