"""Reading back what a NATS subscription published, from the machine's JetStream, with
nats-py, as a consumer would."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import nats

from tests.support.environment import cannot_run

NATS_URL = "nats://127.0.0.1:4222"


@dataclass(frozen=True)
class Published:
    subject: str
    headers: dict[str, str]
    body: bytes


async def _read(stream: str, subject: str, at_least: int, guard: float) -> list[Published]:
    client = await nats.connect(NATS_URL, connect_timeout=2)
    try:
        jetstream = client.jetstream()
        deadline = asyncio.get_running_loop().time() + guard
        while True:
            try:
                consumer = await jetstream.pull_subscribe(f"{subject}.>", stream=stream)
                break
            except nats.js.errors.NotFoundError:
                # The server creates the stream with its first publication.
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.1)
        found: list[Published] = []
        while len(found) < at_least and asyncio.get_running_loop().time() < deadline:
            try:
                messages = await consumer.fetch(500, timeout=0.5)
            except TimeoutError:
                continue
            for message in messages:
                found.append(Published(message.subject, dict(message.headers or {}), message.data))
                await message.ack()
        return found
    finally:
        await client.close()


def read_published(stream: str, subject: str, at_least: int, guard: float = 120) -> list[Published]:
    """Every message of the stream under `subject.>`, waiting until there are `at_least`."""
    return asyncio.run(_read(stream, subject, at_least, guard))


async def add_stream(stream: str, subjects: str) -> None:
    """Create a stream as an operator would (for a server that creates none)."""
    client = await nats.connect(NATS_URL, connect_timeout=2)
    try:
        await client.jetstream().add_stream(name=stream, subjects=[subjects])
    finally:
        await client.close()


async def _delete_stream(stream: str) -> None:
    client = await nats.connect(NATS_URL, connect_timeout=2)
    try:
        with suppress(nats.js.errors.NotFoundError):
            await client.jetstream().delete_stream(stream)
    finally:
        await client.close()


async def _reachable() -> None:
    client = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
    try:
        await client.jetstream().account_info()
    finally:
        await client.close()


@contextmanager
def fresh_subject() -> Iterator[str]:
    """A subject prefix nobody else uses; its stream is deleted afterwards."""
    try:
        asyncio.run(_reachable())
    except Exception as error:
        cannot_run(f"NATS with JetStream at {NATS_URL} is not reachable: {error}")
    subject = f"tracking_test_{secrets.token_hex(4)}"
    try:
        yield subject
    finally:
        from tracking.service.domain.subscriptions import stream_name

        asyncio.run(_delete_stream(stream_name(subject)))
