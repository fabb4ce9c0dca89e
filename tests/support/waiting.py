"""The one way tests wait for a condition: poll it, with a guard that only stops a hang."""

from __future__ import annotations

import time
from collections.abc import Callable

HANG_GUARD = 900.0


def wait_for(
    condition: Callable[[], object], what: str, guard: float = HANG_GUARD, every: float = 0.05
) -> None:
    """Poll condition() every `every` seconds until it is true; fail after `guard` seconds."""
    give_up = time.monotonic() + guard
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"still waiting for {what} after {guard:.0f} s")
        time.sleep(every)
