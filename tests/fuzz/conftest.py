"""Prints how many fuzzed requests each RPC got, and their status codes, after the run."""

from __future__ import annotations

import pytest

from tests.fuzz.tally import summary_lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = summary_lines()
    if lines:
        terminalreporter.section("fuzzed requests")
        for line in lines:
            terminalreporter.write_line(line)
