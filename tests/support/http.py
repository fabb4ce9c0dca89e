"""Calls to the HTTP side as any HTTP client makes them (httpx), and a reader of
server-sent events."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

SERVICE = "/tracking.v1.TrackingService/"


def call(client: httpx.Client, method: str, body: dict[str, Any] | None = None, **kw: Any) -> Any:
    """POST a Connect JSON request; the decoded body of a 200, or AssertionError showing the
    error the server sent."""
    response = client.post(SERVICE + method, json=body or {}, **kw)
    assert response.status_code == 200, (method, response.status_code, response.text)
    return response.json()


def violations(response: httpx.Response) -> dict[str, str]:
    """field -> description, from the BadRequest of a Connect error body."""
    found: dict[str, str] = {}
    for detail in response.json().get("details", []):
        if detail["type"] == "google.rpc.BadRequest":
            for violation in detail["debug"]["fieldViolations"]:
                found[violation["field"]] = violation["description"]
    return found


@dataclass(frozen=True)
class Event:
    id: str
    kind: str  # "message" unless the event says otherwise
    data: Any


def events(lines: Iterator[str], comments: list[str] | None = None) -> Iterator[Event]:
    """The events of a text/event-stream, as EventSource dispatches them; comment lines go
    to `comments` when given."""
    event_id, kind = "", "message"
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield Event(event_id, kind, json.loads("\n".join(data)))
            event_id, kind, data = "", "message", []
        elif line.startswith(":"):
            if comments is not None:
                comments.append(line[1:].strip())
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "id":
                event_id = value
            elif field == "event":
                kind = value
            elif field == "data":
                data.append(value)


class EventReader:
    """Reads the events of one open response. Keep one per response: dropping a line
    iterator of httpx closes the connection under it."""

    def __init__(self, response: httpx.Response) -> None:
        self.comments: list[str] = []
        self._events = events(response.iter_lines(), self.comments)

    def take(self, count: int) -> list[Event]:
        return [next(self._events) for _ in range(count)]

    def rest(self) -> list[Event]:
        """Every event until the stream ends."""
        return list(self._events)


@contextmanager
def never_reading(http_url: str, path: str) -> Iterator[socket.socket]:
    """A connection that asks for `path` and then never reads a byte."""
    parts = urlsplit(http_url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        sock.connect((parts.hostname, parts.port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nhost: tracking\r\n\r\n".encode())
        yield sock
    finally:
        sock.close()
