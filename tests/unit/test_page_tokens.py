"""Page tokens: opaque, signed, bound to their query."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from tracking.service.domain.errors import InvalidArgument
from tracking.service.domain.page_tokens import PageTokenCodec, query_fingerprint


def test_round_trip() -> None:
    codec = PageTokenCodec(b"k" * 32)
    position = {"name": "after-this", "create_time": "2024-05-01T03:00:00Z", "id": 7}
    assert codec.decode(codec.encode("q1", position), "q1") == position


def test_a_token_goes_into_a_url_as_it_is() -> None:
    codec = PageTokenCodec(b"k" * 32)
    # "?" runs encode to "/" and "+" in standard base64, and their lengths need padding.
    tokens = [codec.encode("q1", {"name": "?" * length}) for length in range(1, 7)]
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token), token


def test_a_token_made_without_the_key_is_refused() -> None:
    body = json.dumps({"q": "q1", "p": {"id": 7}}, separators=(",", ":")).encode()
    for mac in (b"", bytes(16), hashlib.sha256(body).digest()[:16]):
        forged = base64.urlsafe_b64encode(mac + body).decode().rstrip("=")
        with pytest.raises(InvalidArgument) as caught:
            PageTokenCodec(b"k" * 32).decode(forged, "q1")
        assert caught.value.violations[0].field == "page_token"


def test_every_altered_character_is_refused() -> None:
    codec = PageTokenCodec(b"k" * 32)
    token = codec.encode("q1", {"id": 7})
    for index in range(len(token)):
        replacement = "A" if token[index] != "A" else "B"
        altered = token[:index] + replacement + token[index + 1 :]
        with pytest.raises(InvalidArgument) as caught:
            codec.decode(altered, "q1")
        assert caught.value.violations[0].field == "page_token"


def test_other_query_or_other_key_is_refused() -> None:
    token = PageTokenCodec(b"k" * 32).encode("q1", {"id": 7})
    with pytest.raises(InvalidArgument) as caught:
        PageTokenCodec(b"k" * 32).decode(token, "q2")
    assert "another query" in caught.value.violations[0].description
    with pytest.raises(InvalidArgument):
        PageTokenCodec(b"x" * 32).decode(token, "q1")
    with pytest.raises(InvalidArgument) as caught:
        PageTokenCodec(b"k" * 32).decode("%%%", "q1", field="resume_token")
    assert caught.value.violations[0].field == "resume_token"


def test_fingerprint_depends_on_every_part() -> None:
    assert query_fingerprint("a", [1]) == query_fingerprint("a", [1])
    assert query_fingerprint("a", [1]) != query_fingerprint("a", [2])
