"""The request sanitizer: what no handler may see, found before any handler runs."""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from tracking.service.domain.errors import ValidationCollector


def sanitize(errors: ValidationCollector, message: Message, path: str) -> None:
    """Name every enum field (at any depth) whose value the contract does not define, and
    every string holding a NUL character (no database column can store one)."""
    for field, value in message.ListFields():
        where = f"{path}.{field.name}" if path else field.name
        if field.type == FieldDescriptor.TYPE_ENUM:
            assert field.enum_type is not None
            values = value if _is_repeated(field) else [value]
            for item in values:
                if item not in field.enum_type.values_by_number:
                    errors.add(where, f"{item} is not a value of {field.enum_type.full_name}")
        elif field.type == FieldDescriptor.TYPE_STRING:
            for item in value if _is_repeated(field) else [value]:
                if "\x00" in item:
                    errors.add(where, "must not contain NUL characters")
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            nested = field.message_type
            assert nested is not None
            if nested.GetOptions().map_entry:
                for key, item in value.items():
                    if "\x00" in str(key) or (isinstance(item, str) and "\x00" in item):
                        errors.add(f"{where}[{str(key)[:40]!r}]", "must not contain NUL characters")
                continue
            if nested.full_name.startswith("google.protobuf."):
                continue
            items = value if _is_repeated(field) else [value]
            for index, item in enumerate(items):
                sanitize(errors, item, f"{where}[{index}]" if _is_repeated(field) else where)


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)
