"""What a program drew on a pseudo-terminal: for output that differs on a terminal."""

from __future__ import annotations

import contextlib
import os
import select


class Screen:
    """What a program drew on the pseudo-terminal whose main side is `fd`."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.drawn = b""

    def read(self) -> bytes:
        if select.select([self.fd], [], [], 0.1)[0]:
            with contextlib.suppress(OSError):  # OSError: every writer closed the terminal
                self.drawn += os.read(self.fd, 65536)
        return self.drawn

    def read_to_end(self) -> bytes:
        while select.select([self.fd], [], [], 0.1)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.drawn += chunk
        return self.drawn
