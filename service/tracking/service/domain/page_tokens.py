"""Opaque, tamper-proof page tokens bound to the query that produced them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from tracking.service.domain.errors import InvalidArgument

_MAC_BYTES = 16


def query_fingerprint(*parts: object) -> str:
    """A short digest of everything that defines a query except its position."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class PageTokenCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, query: str, position: dict[str, Any]) -> str:
        body = json.dumps({"q": query, "p": position}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._mac(body) + body).decode().rstrip("=")

    def decode(self, token: str, query: str, field: str = "page_token") -> dict[str, Any]:
        """The position a token carries; INVALID_ARGUMENT if altered or from another query."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            raise InvalidArgument.of(field, "is not a token this service issued") from None
        mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, self._mac(body)):
            raise InvalidArgument.of(field, "is not a token this service issued")
        try:
            content = json.loads(body)
        except ValueError:
            raise InvalidArgument.of(field, "is not a token this service issued") from None
        if content.get("q") != query:
            raise InvalidArgument.of(
                field, "belongs to another query: send the same filter as before"
            )
        position = content.get("p")
        if not isinstance(position, dict):
            raise InvalidArgument.of(field, "is not a token this service issued")
        return position
