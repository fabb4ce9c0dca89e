"""The README's examples, read from README.md as printed, for the tests that run them."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


@dataclass(frozen=True)
class MetricsExample:
    """The section "Metrics: a training curve, live": its script, commands and table."""

    script: str
    run: list[str]
    follow: list[str]
    table: list[str]
    printed: str


def metrics_example() -> MetricsExample:
    section = README.read_text().split("### Metrics: a training curve, live", 1)[1]
    script, commands, printed = re.findall(r"```(?:python|sh|text)\n(.*?)```", section, re.DOTALL)[
        :3
    ]
    run, follow, table = (shlex.split(line.split("#")[0]) for line in commands.splitlines())
    return MetricsExample(script, run, follow, table, printed)
