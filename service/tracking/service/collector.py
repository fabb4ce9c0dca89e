"""How a serving process runs CPython's cyclic garbage collector.

A server at work makes a few container objects for every message it sends (futures,
coroutine and generator frames, gRPC's operations): with the default thresholds CPython
collects the youngest generation every 700 of them and the whole heap every hundredth
time or so. Most of that heap is what startup made and keeps for the life of the process
(modules, SQLAlchemy's tables and compiled statements, protobuf descriptors: about
150,000 objects), and traversing it again at each full collection was about a tenth of
the server's CPU while it sent changes to 500 watchers. Once the server is up, what
startup left is moved out of the collected generations (`gc.freeze`: it is never
traversed again, and forked workers keep sharing its pages), and the youngest generation
is collected every 10,000 allocations: the same work per young object, ten times fewer
collections of the older generations.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def settle_after_startup() -> None:
    """Collect startup's garbage, freeze what survived, and space out collections."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
