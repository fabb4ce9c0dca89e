"""Giving memory back to the system after large request bodies.

A body of megabytes, its inflated form and its parse are freed once the call is answered,
but glibc keeps what it freed for its next allocations (a server that took 150 bodies of
4 MiB at once stayed 170 MB larger than before them). `release_soon` asks glibc to return
it (`malloc_trim`), once per interval at most and in a thread (it walks the heap). Where
the C library is not glibc, it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from typing import Any

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0


def _malloc_trim() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_trim = _malloc_trim()
_pending: asyncio.TimerHandle | None = None
_running: set[asyncio.Future[Any]] = set()


def release_soon() -> None:
    """Return freed memory to the system within INTERVAL_SECONDS (once for many calls)."""
    global _pending
    if _trim is None or _pending is not None:
        return
    _pending = asyncio.get_running_loop().call_later(INTERVAL_SECONDS, _release)


def _release() -> None:
    global _pending
    _pending = None
    done = asyncio.get_running_loop().run_in_executor(None, _trim, 0)
    _running.add(done)
    done.add_done_callback(_running.discard)
