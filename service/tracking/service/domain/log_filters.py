"""Which log lines a read or a stream keeps: a substring, a regular expression, or both.

Patterns run on RE2, whose matching time is linear in the line's length whatever the
pattern, so no pattern a caller sends can stall the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import re2

from tracking.service.domain.errors import ValidationCollector

MAX_PATTERN_CHARS = 1024
# What one compiled pattern may take; RE2 refuses a larger program (it cannot grow at match time).
_PATTERN_MEMORY = 8 << 20


class HasMessage(Protocol):
    message: str


L = TypeVar("L", bound=HasMessage)


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _PATTERN_MEMORY
    return options


@dataclass(frozen=True)
class LineFilter:
    """Keeps the lines whose message contains `contains` and matches `pattern` (each when set)."""

    contains: str = ""
    pattern: str = ""
    compiled: Any = None

    @property
    def keeps_everything(self) -> bool:
        return not self.contains and self.compiled is None

    def keeps(self, message: str) -> bool:
        if self.contains and self.contains not in message:
            return False
        return self.compiled is None or self.compiled.search(message) is not None

    def apply(self, lines: Iterable[L]) -> list[L]:
        if self.keeps_everything:
            return list(lines)
        return [line for line in lines if self.keeps(line.message)]


NO_FILTER = LineFilter()


def line_filter(
    errors: ValidationCollector, contains: str, pattern: str, field: str = "pattern"
) -> LineFilter:
    """The filter a request asks for; a pattern too long or that does not compile is
    reported on `field`."""
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
        errors.add(field, f"is not an RE2 regular expression: {reason}")
        return NO_FILTER
    return LineFilter(contains=contains, pattern=pattern, compiled=compiled)
