"""Which log lines a read or a stream keeps: a substring, a regular expression, or both.

Patterns run on RE2, whose matching time is linear in the line's length, but with a factor
that grows with the compiled program: counted repetition multiplies it
(`(?:.{0,100}a){10}x`, 19 characters, compiles to 9,015 instructions and matches at
about 25 µs a byte). A pattern is therefore refused when its program is larger than
MAX_PROGRAM_SIZE (the worst patterns found under it cost about 10 µs a byte), and what
one call may spend matching is a budget (MatchBudget) that a read stops at, saying where
to read on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import re2

from tracking.service.domain.errors import ValidationCollector

MAX_PATTERN_CHARS = 1024
# Instructions of a compiled pattern: ordinary patterns take tens, a 1,024-character literal
# 1,028, `.{0,100}` alone 900.
MAX_PROGRAM_SIZE = 2000
# Memory of one compiled pattern, its DFA cache included: RE2 falls back to slower
# matching rather than take more, so a pattern's memory is bounded however it is used.
_PATTERN_MEMORY = 1 << 20


class HasMessage(Protocol):
    message: str


L = TypeVar("L", bound=HasMessage)


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _PATTERN_MEMORY
    return options


@dataclass
class MatchBudget:
    """What one call may still spend matching: CPU seconds of the thread that matches."""

    seconds: float

    @property
    def spent(self) -> bool:
        return self.seconds <= 0


@dataclass(frozen=True)
class Scan:
    """What a scan of lines kept, and how many of them it examined before the budget ran
    out (all of them when it did not)."""

    kept: list[Any]
    examined: int


@dataclass(frozen=True)
class LineFilter:
    """Keeps the lines whose message contains `contains` and matches `pattern` (each when set)."""

    contains: str = ""
    pattern: str = ""
    compiled: Any = None

    @property
    def keeps_everything(self) -> bool:
        return not self.contains and self.compiled is None

    @property
    def matches(self) -> bool:
        """Whether it runs a regular expression (work to do off the event loop)."""
        return self.compiled is not None

    def keeps(self, message: str) -> bool:
        if self.contains and self.contains not in message:
            return False
        return self.compiled is None or self.compiled.search(message) is not None

    def apply(self, lines: Iterable[L]) -> list[L]:
        if self.keeps_everything:
            return list(lines)
        return [line for line in lines if self.keeps(line.message)]

    def scan(self, lines: Sequence[L], budget: MatchBudget) -> Scan:
        """The lines kept, examined in order until the budget is spent; at least one line is
        examined, so that a read always moves on."""
        started = time.thread_time()
        kept: list[L] = []
        examined = 0
        for line in lines:
            if examined and time.thread_time() - started >= budget.seconds:
                break
            examined += 1
            if self.keeps(line.message):
                kept.append(line)
        budget.seconds -= time.thread_time() - started
        return Scan(kept, examined)


NO_FILTER = LineFilter()


def line_filter(
    errors: ValidationCollector, contains: str, pattern: str, field: str = "pattern"
) -> LineFilter:
    """The filter a request asks for; a pattern too long, that does not compile, or whose
    program is too large to match at a bounded cost is reported on `field`."""
    if not pattern:
        return LineFilter(contains=contains)
    if len(pattern) > MAX_PATTERN_CHARS:
        errors.add(field, f"at most {MAX_PATTERN_CHARS} characters, got {len(pattern)}")
        return NO_FILTER
    try:
        compiled = re2.compile(pattern, _options())
    except re2.error as error:
        reason = error.args[0] if error.args else "does not compile"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        if "too large" in reason or "too big" in reason:
            errors.add(field, _too_costly(f"more than {_PATTERN_MEMORY >> 20} MiB"))
        else:
            errors.add(field, f"is not an RE2 regular expression: {reason}")
        return NO_FILTER
    size = max(compiled.programsize, compiled.reverseprogramsize)
    if size > MAX_PROGRAM_SIZE:
        errors.add(field, _too_costly(f"{size} instructions, more than {MAX_PROGRAM_SIZE}"))
        return NO_FILTER
    return LineFilter(contains=contains, pattern=pattern, compiled=compiled)


def _too_costly(size: str) -> str:
    return (
        f"compiles to {size}: too costly to match; use fewer or smaller counted repetitions"
        " (x{n,m}), and a character class instead of '.' where one will do"
    )
