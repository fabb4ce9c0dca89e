"""Webhooks: an event POSTed as a structured CloudEvent, signed per Standard Webhooks, with
timeouts, no redirects followed and at most a few KB of the answer read."""

from __future__ import annotations

import asyncio
import time

import httpx

from tracking.service.domain.clock import utcnow
from tracking.service.domain.subscriptions import parse_retry_after, signature
from tracking.service.outbound.attempts import Outcome
from tracking.service.outbound.cloud_events import CONTENT_TYPE
from tracking.service.outbound.guard import GuardedTransport

# What is read of a receiver's answer (for the delivery log); the rest is never read.
MAX_ANSWER_BYTES = 4096
USER_AGENT = "tracking-webhooks/1"


class WebhookSender:
    def __init__(
        self,
        allow_private: bool,
        connect_timeout: float,
        total_timeout: float,
        max_connections: int = 64,
    ) -> None:
        self.total_timeout = total_timeout
        self.client = httpx.AsyncClient(
            transport=GuardedTransport(allow_private, max_connections),
            timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
            follow_redirects=False,
            trust_env=False,
        )

    async def close(self) -> None:
        await self.client.aclose()

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
        try:
            # httpx's timeouts bound each read; this bounds the whole exchange (a receiver
            # that answers one byte a second).
            async with asyncio.timeout(self.total_timeout):
                async with self.client.stream("POST", url, content=body, headers=headers) as answer:
                    excerpt = await _read_at_most(answer, MAX_ANSWER_BYTES)
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(
                False,
                time.perf_counter() - started,
                error=f"no answer within {self.total_timeout:g} s",
            )
        except httpx.HTTPError as error:
            return Outcome(
                False, time.perf_counter() - started, error=f"{type(error).__name__}: {error}"
            )
        latency = time.perf_counter() - started
        status = answer.status_code
        if 200 <= status < 300:
            return Outcome(True, latency, status)
        if 300 <= status < 400:
            location = answer.headers.get("location", "")[:200]
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
            retry_after=parse_retry_after(answer.headers.get("retry-after"), utcnow()),
            gone=status == 410,
        )


async def _read_at_most(answer: httpx.Response, limit: int) -> bytes:
    """Up to `limit` bytes of the body; the connection is dropped if more remain."""
    read = bytearray()
    async for chunk in answer.aiter_raw():
        read.extend(chunk)
        if len(read) >= limit:
            break
    return bytes(read[:limit])
