"""The request sanitizer: what no handler may see, found before any handler runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from tracking.service.domain.errors import ValidationCollector


def sanitize(
    errors: ValidationCollector, message: Message, path: str, strings: bool = True
) -> None:
    """Name every enum field (at any depth) whose value the contract does not define, and
    every string holding a NUL character (no database column can store one).

    `strings=False` skips the NUL search: a protobuf encoding with no zero byte holds no
    string with a NUL character (UTF-8 writes NUL as the byte 0)."""
    plan = _plan(message.DESCRIPTOR, strings)
    if plan is None:
        return
    for field, value in message.ListFields():
        kind = plan.kinds.get(field.name)
        if kind is None:
            continue
        repeated = field.is_repeated
        if kind == "enum":
            defined = plan.enum_numbers[field.name]
            for item in value if repeated else (value,):
                if item not in defined:
                    assert field.enum_type is not None
                    errors.add(
                        _where(path, field), f"{item} is not a value of {field.enum_type.full_name}"
                    )
        elif kind == "string":
            for item in value if repeated else (value,):
                if "\x00" in item:
                    errors.add(_where(path, field), "must not contain NUL characters")
        elif kind == "map":
            for key, item in value.items():
                if "\x00" in str(key) or (isinstance(item, str) and "\x00" in item):
                    errors.add(
                        f"{_where(path, field)}[{str(key)[:40]!r}]",
                        "must not contain NUL characters",
                    )
        elif repeated:
            assert field.message_type is not None
            nested = _plan(field.message_type, strings)
            if nested is not None and nested.flat and nested.all_clean(value):
                continue  # the usual case of a long list (log lines): one pass per field
            where = _where(path, field)
            for index, item in enumerate(value):
                sanitize(errors, item, f"{where}[{index}]", strings)
        else:
            sanitize(errors, value, _where(path, field), strings)


def _where(path: str, field: FieldDescriptor) -> str:
    return f"{path}.{field.name}" if path else field.name


@dataclass(frozen=True)
class _Plan:
    """What to look at in a message type: field name -> "enum", "string", "map" or
    "message" (a nested type that can hold something to refuse)."""

    kinds: dict[str, str]
    enum_numbers: dict[str, frozenset[int]]
    # Only singular enums and strings to look at.
    flat: bool

    def all_clean(self, items: Sequence[Message]) -> bool:
        """Whether no item of a flat type holds anything to refuse (checked field by field,
        over every item at once, on singular fields)."""
        for name, kind in self.kinds.items():
            column = {getattr(item, name) for item in items}
            if kind == "enum" and not column <= self.enum_numbers[name]:
                return False
            if kind == "string" and any("\x00" in text for text in column):
                return False
        return True


@cache
def _plan(descriptor: Descriptor, strings: bool) -> _Plan | None:
    """The plan for a message type, None when nothing in it can be refused."""
    kinds: dict[str, str] = {}
    enum_numbers: dict[str, frozenset[int]] = {}
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_ENUM:
            assert field.enum_type is not None
            kinds[field.name] = "enum"
            enum_numbers[field.name] = frozenset(field.enum_type.values_by_number)
        elif field.type == FieldDescriptor.TYPE_STRING and strings:
            kinds[field.name] = "string"
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            nested = field.message_type
            assert nested is not None
            if nested.GetOptions().map_entry:
                if strings:
                    kinds[field.name] = "map"
            elif not nested.full_name.startswith("google.protobuf.") and (
                nested is descriptor or _plan(nested, strings) is not None
            ):
                kinds[field.name] = "message"
    if not kinds:
        return None
    flat = all(
        kinds[field.name] in ("enum", "string") and not field.is_repeated
        for field in descriptor.fields
        if field.name in kinds
    )
    return _Plan(kinds, enum_numbers, flat)
