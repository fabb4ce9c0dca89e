"""The list filter language: conditions joined by AND.

    status IN (RUNNING, WAITING) AND labels.team = "ml" AND create_time >= "2026-01-01T00:00:00Z"

Each field has a kind that decides its operators and how its values parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from tracking.service.domain.errors import InvalidArgument

MAX_FILTER_LENGTH = 2000


class Kind(Enum):
    STRING = "string"
    ENUM = "enum"
    BOOL = "bool"
    TIME = "time"


@dataclass(frozen=True)
class FieldSpec:
    kind: Kind
    choices: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    values: tuple[Any, ...]
    label_key: str = ""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z0-9_./:+-]+)
    )""",
    re.VERBOSE,
)
_EQUALITY = ("=", "!=")
_ORDERING = ("<", "<=", ">", ">=")


def _bad(description: str) -> InvalidArgument:
    return InvalidArgument.of("filter", description)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise _bad(f"unexpected character at position {position}: {text[position:][:20]!r}")
        kind = match.lastgroup
        assert kind is not None
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], fields: dict[str, FieldSpec]) -> None:
        self.tokens = tokens
        self.index = 0
        self.fields = fields

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, what: str) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _bad(f"ends early: expected {what}")
        self.index += 1
        return token

    def conditions(self) -> list[Condition]:
        result = [self.condition()]
        while self.peek() is not None:
            kind, value = self.take("AND")
            if kind != "word" or value.upper() != "AND":
                raise _bad(f"expected AND between conditions, got {value!r}")
            result.append(self.condition())
        return result

    def condition(self) -> Condition:
        kind, name = self.take("a field name")
        if kind != "word":
            raise _bad(f"expected a field name, got {name!r}")
        label_key = ""
        if name.startswith("labels.") and "labels" in self.fields:
            label_key, name = name.removeprefix("labels."), "labels"
            if not label_key:
                raise _bad("labels. must be followed by a label key")
        spec = self.fields.get(name)
        if spec is None:
            known = ", ".join(sorted(f if f != "labels" else "labels.<key>" for f in self.fields))
            raise _bad(f"unknown field {name!r}; known fields: {known}")
        kind, op = self.take("an operator")
        if kind == "word" and op.upper() == "IN":
            values = self.value_list(name, spec)
            return Condition(name, "IN", values, label_key)
        if kind != "op":
            raise _bad(f"expected an operator after {name!r}, got {op!r}")
        allowed = _EQUALITY + (_ORDERING if spec.kind is Kind.TIME else ())
        if op not in allowed:
            raise _bad(f"operator {op!r} does not apply to {name!r}; use {', '.join(allowed)}")
        return Condition(name, op, (self.value(name, spec),), label_key)

    def value_list(self, name: str, spec: FieldSpec) -> tuple[Any, ...]:
        if self.take("(")[1] != "(":
            raise _bad(f"IN after {name!r} must be followed by a list in parentheses")
        values = [self.value(name, spec)]
        while True:
            kind, value = self.take(") or ,")
            if value == ")" and kind == "punct":
                return tuple(values)
            if value != "," or kind != "punct":
                raise _bad(f"expected , or ) in the list of {name!r}, got {value!r}")
            values.append(self.value(name, spec))

    def value(self, name: str, spec: FieldSpec) -> Any:
        kind, text = self.take(f"a value for {name!r}")
        if kind not in ("word", "string"):
            raise _bad(f"expected a value for {name!r}, got {text!r}")
        if spec.kind is Kind.ENUM:
            upper = text.upper()
            if upper not in spec.choices:
                raise _bad(f"{text!r} is not a {name}; one of {', '.join(sorted(spec.choices))}")
            return upper
        if spec.kind is Kind.BOOL:
            if text.lower() not in ("true", "false"):
                raise _bad(f"{name} takes true or false, not {text!r}")
            return text.lower() == "true"
        if spec.kind is Kind.TIME:
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise _bad(f"{text!r} is not an RFC 3339 time for {name!r}") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            try:
                return moment.astimezone(UTC)
            except OverflowError:
                raise _bad(f"{text!r} is outside the range of times for {name!r}") from None
        return text


def parse(text: str, fields: dict[str, FieldSpec]) -> list[Condition]:
    """Parse a filter; INVALID_ARGUMENT naming `filter` if it does not parse."""
    if not text.strip():
        return []
    if len(text) > MAX_FILTER_LENGTH:
        raise _bad(f"at most {MAX_FILTER_LENGTH} characters")
    return _Parser(_tokens(text), fields).conditions()


def canonical(conditions: list[Condition]) -> list[tuple[str, str, str, list[str]]]:
    """A stable form of a parsed filter, for binding page tokens to their query."""
    return sorted(
        (c.field, c.label_key, c.op, sorted(str(v) for v in c.values)) for c in conditions
    )
