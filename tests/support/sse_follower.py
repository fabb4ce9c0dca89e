"""A follower of server-sent events that reconnects as a browser's EventSource does."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from tests.support.http import events

RETRYABLE = {"unavailable", "resource_exhausted"}


@dataclass
class Follower:
    """Follows one URL the way a browser's EventSource does: on a cut, a retryable error
    or a refused connection it reconnects, sending the last id it saw."""

    url: str
    received: list[tuple[str, object]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0
    ended = False
    last_id = ""
    give_up_seconds: float = 120

    def run(self) -> None:
        give_up = time.monotonic() + self.give_up_seconds
        while not self.ended and time.monotonic() < give_up:
            headers = {"last-event-id": self.last_id} if self.last_id else {}
            try:
                with httpx.stream("GET", self.url, headers=headers, timeout=30) as stream:
                    if stream.status_code != 200:
                        stream.read()
                        self.errors.append(stream.text)
                        return
                    for event in events(stream.iter_lines()):
                        if event.kind == "end":
                            self.ended = True
                            return
                        if event.kind == "error":
                            if event.data["code"] not in RETRYABLE:
                                self.errors.append(str(event.data))
                                return
                            break
                        self.received.append((event.id, event.data))
                        self.last_id = event.id
            except httpx.TransportError:
                time.sleep(0.1)  # the browser's retry: interval
            self.reconnects += 1

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread
