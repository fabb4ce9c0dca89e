"""A stream's request from the query string of a GET: parameters are the request's fields by
their proto names (`?execution_id=…&follow=true&tail=100`)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from tracking.service.api.registration import sanitized
from tracking.service.domain.errors import Violation
from tracking.service.wrapping import Malformed

_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def request_from_query(
    message_class: type[Message], params: list[tuple[str, str]]
) -> Message | Malformed:
    """The request, or Malformed naming each parameter that is unknown, given twice, or not
    a value of its field."""
    descriptor = message_class.DESCRIPTOR
    name = descriptor.full_name
    violations: list[Violation] = []
    document: dict[str, Any] = {}
    for key, value in params:
        field = descriptor.fields_by_name.get(key)
        if field is None:
            violations.append(Violation(key, f"is not a field of {name}"))
        elif key in document:
            violations.append(Violation(key, "is given more than once"))
        elif field.type == FieldDescriptor.TYPE_BOOL:
            if value.lower() not in _BOOLEANS:
                violations.append(Violation(key, f"must be true or false, got {value!r}"))
            document[key] = _BOOLEANS.get(value.lower(), False)
        else:
            document[key] = value
    if violations:
        return Malformed(name, violations)
    message = message_class()
    for key, value in document.items():
        try:
            json_format.ParseDict({key: value}, message, ignore_unknown_fields=False)
        except json_format.ParseError as error:
            detail = str(error).splitlines()[0].split(": ", 1)[-1]
            violations.append(Violation(key, f"{value!r} is not a valid value: {detail}"))
    if violations:
        return Malformed(name, violations)
    return sanitized(message)
