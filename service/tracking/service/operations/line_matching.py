"""Log lines matched against a pattern off the event loop, in slices, on a few threads.

A pattern's matching holds no lock Python needs (RE2 releases the GIL), so it runs on
threads of its own: the loop keeps answering other calls whatever a pattern costs. Work
is handed over in slices of at most SLICE_SECONDS, so the streams and reads that filter
take turns on those threads, and a hostile pattern delays the other filtering callers by
a slice, not by its whole scan. A substring filter alone is cheap and runs in place.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from tracking.service.domain.log_filters import L, LineFilter, MatchBudget, Scan

SLICE_SECONDS = 0.05
# Half the cores: matching never takes the CPU the event loop needs.
_matcher = ThreadPoolExecutor(
    max_workers=max(1, (os.cpu_count() or 2) // 2), thread_name_prefix="tracking-filters"
)


async def scan(keep: LineFilter, lines: Sequence[L], budget: MatchBudget) -> Scan:
    """The lines kept, examined in order until `budget` is spent (all when it is not)."""
    if not keep.matches:
        return Scan(keep.apply(lines), len(lines))
    loop = asyncio.get_running_loop()
    kept: list[L] = []
    examined = 0
    while examined < len(lines) and not (examined and budget.spent):
        share = max(min(SLICE_SECONDS, budget.seconds), 0.0)
        part = MatchBudget(share)
        done = await loop.run_in_executor(_matcher, keep.scan, lines[examined:], part)
        budget.seconds -= share - part.seconds
        kept += done.kept
        examined += done.examined
    return Scan(kept, examined)


async def kept(keep: LineFilter, lines: Sequence[L]) -> list[L]:
    """The lines kept (a stream's batch: all are examined, a slice at a time)."""
    if not keep.matches:
        return keep.apply(lines)
    return (await scan(keep, lines, MatchBudget(float("inf")))).kept
