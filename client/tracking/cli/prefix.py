"""The `[execution-id]` prefix of lines that come from many executions (as stern and
`kubectl logs --prefix` print them): padded to the longest id seen so far, and on a
terminal coloured by execution, each id always in the same colour."""

from __future__ import annotations

import os
import sys
import zlib

import typer

COLOURS = ("cyan", "green", "yellow", "blue", "magenta", "bright_cyan", "bright_green")


def colour_wanted() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


class ExecutionPrefix:
    def __init__(self, colour: bool) -> None:
        self.colour = colour
        self.width = 0

    def __call__(self, execution_id: str) -> str:
        self.width = max(self.width, len(execution_id) + 2)
        text = f"[{execution_id}]".ljust(self.width)
        if not self.colour:
            return text
        return typer.style(text, fg=COLOURS[zlib.crc32(execution_id.encode()) % len(COLOURS)])
