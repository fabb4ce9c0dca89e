"""Page size and page token handling shared by the list operations."""

from __future__ import annotations

from tracking.service.domain.errors import InvalidArgument
from tracking.service.domain.limits import Limits


def page_size(requested: int, limits: Limits) -> int:
    if requested < 0:
        raise InvalidArgument.of("page_size", f"must not be negative, got {requested}")
    return min(requested or limits.default_page_size, limits.max_page_size)
