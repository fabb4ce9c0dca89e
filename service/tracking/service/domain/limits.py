"""Limits that bound what one request may ask for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    default_page_size: int = 50
    max_page_size: int = 1000
    max_log_batch: int = 5000
    max_log_line: int = 65536
    max_log_read: int = 10000
    max_tail: int = 100000
