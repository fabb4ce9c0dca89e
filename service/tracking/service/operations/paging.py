"""Page size and page token handling shared by the list operations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tracking.service.domain.errors import InvalidArgument
from tracking.service.domain.limits import Limits


def page_size(requested: int, limits: Limits) -> int:
    if requested < 0:
        raise InvalidArgument.of("page_size", f"must not be negative, got {requested}")
    return min(requested or limits.default_page_size, limits.max_page_size)


R = TypeVar("R")


@dataclass(frozen=True)
class Page(Generic[R]):
    """One page of rows, and how to continue after any of them."""

    rows: list[R]
    more: bool
    token_after: Callable[[R], str]

    def next_token(self, shown: int) -> str:
        """The token of the page after the first `shown` rows; "" when nothing follows."""
        if shown == len(self.rows) and not self.more:
            return ""
        return self.token_after(self.rows[shown - 1])
