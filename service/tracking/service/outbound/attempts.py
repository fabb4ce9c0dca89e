"""What one attempt to hand an event to a receiver came to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    latency_seconds: float
    http_status: int = 0
    error: str = ""
    # Seconds the receiver asked us to wait (Retry-After).
    retry_after: float | None = None
    # The receiver said it wants no more (410 Gone): the subscription stops at once.
    gone: bool = False
