"""The W3C trace context a call carries (`traceparent`), checked and handed on.

Kept apart from tracing.py, which needs OpenTelemetry's SDK: what a creator sent is stored
on its execution whether or not this server exports spans.
"""

from __future__ import annotations

import contextvars
import re
from typing import Any

# The traceparent of the span tracing.py made for the current call (set only when tracing
# is on).
server_span: contextvars.ContextVar[str] = contextvars.ContextVar("server_span", default="")

# version "00" (and later versions, read as 00 by their first four fields), trace id,
# parent span id, flags; lowercase hex only (https://www.w3.org/TR/trace-context/).
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_NO_TRACE = "0" * 32
_NO_SPAN = "0" * 16


def valid_traceparent(value: str) -> str:
    """`value` if it is a W3C traceparent a trace can be joined from, else "" (a malformed
    one is ignored, never an error)."""
    found = _TRACEPARENT.fullmatch(value.strip())
    if found is None:
        return ""
    version, trace_id, span_id, _, rest = found.groups()
    if version == "ff" or trace_id == _NO_TRACE or span_id == _NO_SPAN:
        return ""
    if version == "00" and rest:
        return ""  # version 00 has exactly four fields
    return value.strip()


def sent_traceparent(metadata: Any) -> str:
    """The valid traceparent among a call's metadata (HTTP headers included), or ""."""
    for key, value in metadata or ():
        if key == "traceparent":
            return valid_traceparent(str(value))
    return ""


def creation_traceparent(metadata: Any) -> str:
    """What an execution keeps as its trace context: the caller's valid traceparent, or the
    server's span of the creation when tracing is on and the caller sent none, or ""."""
    return sent_traceparent(metadata) or server_span.get()
