"""The command `tracking run` starts: its own process group, its output read as lines, and how
it is stopped."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence

# Lines longer than the server takes (GetServiceInfo's max_log_line_chars; this when it
# cannot say) are cut into pieces, each but the last ending with CONTINUED.
DEFAULT_MAX_LINE = 16_384
CONTINUED = " \u21a9"  # " ↩"
READ_SIZE = 65_536

LineSink = Callable[[str], Awaitable[None]]


class Child:
    """A running command in a process group of its own, so that a stop reaches everything it
    started (a shell and its children alike)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, command: Sequence[str], environment: Mapping[str, str]) -> Child:
        """Start `command` with stdout and stderr piped, and `environment` added to this
        process's own; OSError if it cannot be run."""
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            process_group=0,
            env={**os.environ, **environment},
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait(self) -> int:
        return await self.process.wait()

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    async def stop(self, grace_seconds: float) -> None:
        """SIGTERM to the group; SIGKILL if the command has not ended after the grace period."""
        self.signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self.process.wait()), grace_seconds)
        except TimeoutError:
            self.signal(signal.SIGKILL)
            await self.process.wait()
        # Whatever the command left behind in its group goes with it.
        self.signal(signal.SIGKILL)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def shell_exit_code(returncode: int) -> int:
    """A shell's convention: 128 + N for a command killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


async def read_lines(
    reader: asyncio.StreamReader,
    sink: LineSink,
    echo: int | None,
    max_line: int = DEFAULT_MAX_LINE,
) -> None:
    """Pass each line of `reader` to `sink` (decoded as UTF-8, bad bytes replaced, NUL shown as
    U+FFFD, lines longer than `max_line` cut into marked pieces), and copy the raw bytes to
    the file descriptor `echo` as they come (unbuffered, so that a closed reader there loses
    nothing else)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    body, marker = piece_size(max_line)
    pending = ""
    while chunk := await reader.read(READ_SIZE):
        if echo is not None:
            try:
                _write_all(echo, chunk)
            except OSError:  # the reader of our own output went away (| head): stop copying
                echo = None
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            for piece in split_line(_clean(line.removesuffix("\r")), max_line):
                await sink(piece)
        # A line still without its end is cut as it grows, as split_line would cut it.
        while len(pending) > max_line:
            await sink(_clean(pending[:body]) + marker)
            pending = pending[body:]
    pending += decoder.decode(b"", final=True)
    if pending:
        for piece in split_line(_clean(pending), max_line):
            await sink(piece)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def piece_size(max_line: int) -> tuple[int, str]:
    """How many characters of a line go in each cut piece, and the marker that ends it (none
    when the limit leaves no room for it)."""
    if max_line <= len(CONTINUED):
        return max_line, ""
    return max_line - len(CONTINUED), CONTINUED


def split_line(line: str, max_line: int) -> list[str]:
    """`line` whole if it fits in `max_line` characters; otherwise pieces of at most
    `max_line`, each but the last ending with CONTINUED."""
    body, marker = piece_size(max_line)
    pieces = []
    while len(line) > max_line:
        pieces.append(line[:body] + marker)
        line = line[body:]
    pieces.append(line)
    return pieces


def _clean(text: str) -> str:
    return text.replace("\x00", "\ufffd")
