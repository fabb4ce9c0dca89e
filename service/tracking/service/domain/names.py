"""Rules for the names and ids clients choose."""

from __future__ import annotations

import re
import secrets

from tracking.service.domain.errors import ValidationCollector

DEPLOYMENT_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
EXECUTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
LABEL_KEY = re.compile(r"[a-z0-9][a-z0-9_./-]{0,62}")
MAX_LABEL_VALUE = 255
MAX_LABELS = 64
MAX_TEXT = 4096


def check_deployment_name(errors: ValidationCollector, field: str, name: str) -> None:
    if not name:
        errors.add(field, "is required")
    elif not DEPLOYMENT_NAME.fullmatch(name):
        errors.add(
            field,
            f"{name[:80]!r} is not a valid deployment name: 1 to 63 lowercase letters, "
            "digits and '-', starting and ending with a letter or digit",
        )


def check_execution_id(errors: ValidationCollector, field: str, execution_id: str) -> None:
    if not execution_id:
        errors.add(field, "is required")
    elif not EXECUTION_ID.fullmatch(execution_id):
        errors.add(
            field,
            f"{execution_id[:80]!r} is not a valid execution id: 1 to 128 characters of "
            "[A-Za-z0-9._-], starting with a letter or digit",
        )


def check_request_id(errors: ValidationCollector, field: str, request_id: str) -> None:
    if request_id and not REQUEST_ID.fullmatch(request_id):
        errors.add(
            field,
            f"{request_id[:80]!r} is not a valid request id: 1 to 128 characters of "
            "[A-Za-z0-9._:-], starting with a letter or digit",
        )


def check_labels(errors: ValidationCollector, field: str, labels: dict[str, str]) -> None:
    if len(labels) > MAX_LABELS:
        errors.add(field, f"at most {MAX_LABELS} labels, got {len(labels)}")
    for key, value in labels.items():
        if not LABEL_KEY.fullmatch(key):
            errors.add(
                f"{field}[{key[:80]!r}]",
                "label keys are 1 to 63 characters of [a-z0-9_./-], starting with a letter or digit",
            )
        elif len(value) > MAX_LABEL_VALUE:
            errors.add(
                f"{field}[{key!r}]", f"label values are at most {MAX_LABEL_VALUE} characters"
            )


def check_text(errors: ValidationCollector, field: str, text: str, limit: int = MAX_TEXT) -> None:
    if len(text) > limit:
        errors.add(field, f"at most {limit} characters, got {len(text)}")


def check_unique_names(errors: ValidationCollector, field: str, names: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if not name:
            errors.add(f"{field}[{index}]", "name is required")
        elif name in seen:
            errors.add(f"{field}[{index}]", f"name {name!r} is repeated")
        seen.add(name)


def new_execution_id(prefix: str) -> str:
    """A fresh id: the deployment's name (or 'exec') and 12 random hex digits."""
    return f"{prefix or 'exec'}-{secrets.token_hex(6)}"
