"""How the server's log lines read: text for a person at a terminal, JSON lines (one object
a line) for a collector; and a client that hangs up in the middle of a stream is no error."""

from __future__ import annotations

import logging
from typing import Literal, TextIO

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["auto", "json", "text"]
# The attributes every record has; the others were given as `extra` and are shown too.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
}
# What grpc's core logs when a servicer writes to a call whose client is gone.
_CLIENT_GONE = "ExecuteBatchError raised in core by servicer method"


def chosen_format(fmt: LogFormat, stream: TextIO) -> Literal["json", "text"]:
    """auto: text when a person reads the stream (a terminal), JSON when a program does."""
    if fmt != "auto":
        return fmt
    return "text" if stream.isatty() else "json"


def formatter(fmt: Literal["json", "text"]) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return TextFormatter()


class TextFormatter(logging.Formatter):
    """`12:03:04.567 WARNING tracking.app: message key=value ...`: the time of day, the
    fields given as extra (and the call's request id) after the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if call := getattr(record, "request_id", ""):
            fields["request_id"] = call
        if not fields:
            return text
        head, newline, rest = text.partition("\n")  # a traceback stays below the line
        shown = " ".join(f"{key}={value}" for key, value in fields.items())
        return f"{head} {shown}{newline}{rest}"


class ClientGone(logging.Filter):
    """grpc logs a stream whose client went away mid-write as an ERROR with a traceback:
    here it is one DEBUG line, as any call a client cancels."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "grpc._cython.cygrpc" or not record.getMessage().startswith(_CLIENT_GONE):
            return True
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            return False
        method = record.getMessage().rpartition("[")[2].rstrip("]")
        record.msg, record.args = "the client went away in the middle of %s", (method,)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info = record.exc_text = None
        return True
