"""What the fuzzed requests got: backend -> RPC -> status code name -> count.

The bad-input test fills it; the fuzz conftest prints it in pytest's terminal summary.
"""

from __future__ import annotations

from collections import Counter

TALLY: dict[str, dict[str, Counter[str]]] = {}


def summary_lines() -> list[str]:
    lines = []
    for backend, per_rpc in sorted(TALLY.items()):
        total: Counter[str] = Counter()
        for counts in per_rpc.values():
            total.update(counts)
        lines.append(
            f"fuzz [{backend}]: {sum(total.values())} requests over {len(per_rpc)} RPCs: "
            + ", ".join(f"{code} {count}" for code, count in total.most_common())
        )
        for rpc, counts in sorted(per_rpc.items()):
            lines.append(
                f"  {rpc}: " + ", ".join(f"{code} {count}" for code, count in counts.most_common())
            )
    return lines
