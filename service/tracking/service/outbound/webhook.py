"""Webhooks: an event POSTed as a structured CloudEvent, signed per Standard Webhooks, with
timeouts, no redirects followed and at most a few KB of the answer read (aiohttp: its
connection pool keeps thousands of deliveries a second on one core)."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import aiohttp

from tracking.service.domain.clock import utcnow
from tracking.service.domain.subscriptions import parse_retry_after, signature
from tracking.service.outbound.attempts import Outcome
from tracking.service.outbound.cloud_events import CONTENT_TYPE
from tracking.service.outbound.guard import guarded_connector, refused_literal

# What is read of a receiver's answer (for the delivery log); the rest is never read.
MAX_ANSWER_BYTES = 4096
USER_AGENT = "tracking-webhooks/1"
# The longest error a delivery attempt records.
MAX_ERROR = 300


class WebhookSender:
    def __init__(
        self,
        allow_private: bool,
        connect_timeout: float,
        total_timeout: float,
        max_connections: int = 64,
    ) -> None:
        self.allow_private = allow_private
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, on the loop that sends.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=guarded_connector(self.allow_private, self.max_connections),
                timeout=aiohttp.ClientTimeout(
                    total=self.total_timeout, sock_connect=self.connect_timeout
                ),
                # Proxies from the environment could reach what the guard refuses.
                trust_env=False,
                # A compressed answer is never inflated (a small body can expand to gigabytes).
                auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, url: str, secret: str, message_id: str, body: bytes) -> Outcome:
        timestamp = int(time.time())
        headers = {
            "content-type": CONTENT_TYPE,
            "user-agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, message_id, timestamp, body),
        }
        started = time.perf_counter()
        refusal = refused_literal(urlsplit(url).hostname or "", self.allow_private)
        if refusal is not None:
            return Outcome(False, 0.0, error=str(refusal))
        try:
            async with asyncio.timeout(self.total_timeout):
                async with self._client().post(
                    url, data=body, headers=headers, allow_redirects=False
                ) as answer:
                    excerpt = await answer.content.read(MAX_ANSWER_BYTES)
                    if not answer.content.at_eof():
                        # More is coming: drop the connection rather than read it.
                        answer.close()
                    status = answer.status
                    location = answer.headers.get("location", "")[:200]
                    retry_after = answer.headers.get("retry-after")
        except TimeoutError:
            return Outcome(
                False,
                time.perf_counter() - started,
                error=f"no answer within {self.total_timeout:g} s",
            )
        except aiohttp.ClientConnectorError as error:
            return Outcome(
                False, time.perf_counter() - started, error=str(error.os_error)[:MAX_ERROR]
            )
        except (aiohttp.ClientError, OSError) as error:
            # A receiver's malformed answer is quoted in the error: only its start is kept.
            return Outcome(
                False,
                time.perf_counter() - started,
                error=f"{type(error).__name__}: {error}"[:MAX_ERROR],
            )
        latency = time.perf_counter() - started
        if 200 <= status < 300:
            return Outcome(True, latency, status)
        if 300 <= status < 400:
            return Outcome(
                False,
                latency,
                status,
                error=f"HTTP {status}: redirect to {location!r} not followed",
            )
        text = excerpt.decode("utf-8", "replace").strip()[:200]
        return Outcome(
            False,
            latency,
            status,
            error=f"HTTP {status}" + (f": {text}" if text else ""),
            retry_after=parse_retry_after(retry_after, utcnow()),
            gone=status == 410,
        )
