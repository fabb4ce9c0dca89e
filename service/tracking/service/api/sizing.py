"""Responses that stay well under the message limit: lists and log reads cut in pieces."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from google.protobuf.message import Message

M = TypeVar("M", bound=Message)

# What one response of a list or log read may carry, well under the 4 MiB message limit.
MAX_RESPONSE_BYTES = 2 * 1024 * 1024


def chunks_that_fit(messages: Iterable[M]) -> Iterator[list[M]]:
    """The messages in consecutive lists of at most MAX_RESPONSE_BYTES each (a larger
    message alone), in order; at least one list. Lazy: taking the first list builds no
    more messages than it holds, plus one."""
    chunk: list[M] = []
    size = 0
    for message in messages:
        message_size = message.ByteSize() + 8
        if chunk and size + message_size > MAX_RESPONSE_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += message_size
    yield chunk
