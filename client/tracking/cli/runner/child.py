"""The command `tracking run` starts: its own process group, its output read as lines, and how
it is stopped."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence

# The server takes lines of up to 65,536 characters; longer output is cut into pieces.
MAX_LINE = 16_384
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


async def read_lines(reader: asyncio.StreamReader, sink: LineSink, echo: int | None) -> None:
    """Pass each line of `reader` to `sink` (decoded as UTF-8, bad bytes replaced, NUL shown as
    U+FFFD, lines longer than MAX_LINE cut), and copy the raw bytes to the file descriptor
    `echo` as they come (unbuffered, so that a closed reader there loses nothing else)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
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
            for piece in _pieces(line.removesuffix("\r")):
                await sink(piece)
        while len(pending) > MAX_LINE:
            await sink(_clean(pending[:MAX_LINE]))
            pending = pending[MAX_LINE:]
    pending += decoder.decode(b"", final=True)
    if pending:
        for piece in _pieces(pending):
            await sink(piece)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _pieces(line: str) -> list[str]:
    line = _clean(line)
    return [line[i : i + MAX_LINE] for i in range(0, len(line), MAX_LINE)] or [""]


def _clean(text: str) -> str:
    return text.replace("\x00", "\ufffd")
