"""Metric points: what a name may hold, a batch column by column, and how a step range is
cut into buckets."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from tracking.service.domain.errors import ValidationCollector

MAX_NAME_CHARACTERS = 200
# Unicode general categories a name may hold besides the plain space: letters, marks,
# numbers, punctuation and symbols. Controls, format characters (zero-width and
# direction marks), other separators and unassigned code points are refused.
_NAME_CATEGORIES = frozenset("LMNPS")
MAX_HISTORY_POINTS = 10_000
# Points or buckets one history response holds over all its executions (under 2 MB).
MAX_HISTORY_TOTAL = 20_000


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a series, or None."""
    if not name:
        return "is required"
    if len(name) > MAX_NAME_CHARACTERS:
        return f"at most {MAX_NAME_CHARACTERS} characters, got {len(name)}"
    if name[0] == " " or name[-1] == " ":
        return "must not start or end with a space"
    for character in name:
        if character != " " and unicodedata.category(character)[0] not in _NAME_CATEGORIES:
            return (
                f"holds {character!a}: letters, digits, punctuation, symbols and plain spaces only"
            )
    return None


def check_name(errors: ValidationCollector, field: str, name: str) -> None:
    problem = name_problem(name)
    if problem:
        errors.add(field, problem)


@dataclass(frozen=True)
class MetricBatch:
    """The points of one LogMetrics, one list entry per point in the order sent. A step of
    None follows its series' largest step; a time of None is the time of the write; a value
    of None is NaN (stored as NULL, which min and max skip)."""

    names: list[str]
    values: list[float | None]
    steps: list[int | None]
    times: list[datetime | None]

    def __len__(self) -> int:
        return len(self.names)

    def check(self, errors: ValidationCollector, max_points: int) -> None:
        if not self.names:
            errors.add("points", "send at least one point")
        if len(self.names) > max_points:
            errors.add("points", f"at most {max_points} points per batch, got {len(self.names)}")
            return
        problems = {name: name_problem(name) for name in set(self.names)}
        for index, (name, step) in enumerate(zip(self.names, self.steps, strict=True)):
            problem = problems[name]
            if problem:
                errors.add(f"points[{index}].name", problem)
            if step is not None and step < 0:
                errors.add(f"points[{index}].step", f"must not be negative, got {step}")

    def with_steps(self, largest: dict[str, int]) -> list[int]:
        """Each point's step: its own, or one more than its series' largest step so far
        (`largest` holds what is stored; points of this batch count as they come)."""
        steps: list[int] = []
        for name, step in zip(self.names, self.steps, strict=True):
            if step is None:
                step = largest.get(name, -1) + 1
            if step > largest.get(name, -1):
                largest[name] = step
            steps.append(step)
        return steps


def stored_value(value: float) -> float | None:
    return None if math.isnan(value) else value


def shown_value(value: float | None) -> float:
    return math.nan if value is None else value


@dataclass(frozen=True)
class Buckets:
    """Steps first_step .. last_step cut into `count` buckets of `width` steps: the bucket of
    a step is (step - first_step) // width."""

    first_step: int
    width: int


def buckets_for(first_step: int, last_step: int, max_buckets: int) -> Buckets:
    span = last_step - first_step + 1
    return Buckets(first_step, max(1, -(-span // max_buckets)))
