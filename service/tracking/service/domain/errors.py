"""Errors the domain and the store raise; errors.py maps them to gRPC statuses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One bad field of a request."""

    field: str
    description: str


class DomainError(Exception):
    """Base of every error a client caused."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    """One or more fields are malformed."""

    # Every violation goes back in the status trailer twice (the message and the details),
    # and clients refuse trailers above 8 KiB by default: what is listed stays within this.
    MAX_VIOLATIONS = 50
    MAX_LISTED_BYTES = 2048
    MAX_FIELD_CHARACTERS = 200

    def __init__(self, violations: list[Violation]) -> None:
        listed: list[Violation] = []
        size = 0
        for violation in violations[: self.MAX_VIOLATIONS]:
            shown = Violation(
                _cut(violation.field, self.MAX_FIELD_CHARACTERS),
                _cut(violation.description, self.MAX_FIELD_CHARACTERS),
            )
            size += len(shown.field) + len(shown.description) + 4
            if listed and size > self.MAX_LISTED_BYTES:
                break
            listed.append(shown)
        if len(listed) < len(violations):
            more = len(violations) - len(listed)
            listed.append(Violation("request", f"and {more} more problems not listed"))
        self.violations = listed
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in listed))

    @classmethod
    def of(cls, field: str, description: str) -> InvalidArgument:
        return cls([Violation(field, description)])


class NotFound(DomainError):
    """The thing named does not exist."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} {name!r} not found")


class AlreadyExists(DomainError):
    """Creating would duplicate something that exists."""


class FailedPrecondition(DomainError):
    """The request is well formed but not allowed in the current state."""


class Aborted(DomainError):
    """A concurrent change happened first (stale expected_revision)."""


class ResourceExhausted(DomainError):
    """A limit was reached."""


class Unavailable(DomainError):
    """The server cannot serve this now (shutting down); retry elsewhere."""


class ValidationCollector:
    """Gathers every violation of a request so the caller sees them all at once."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def add(self, field: str, description: str) -> None:
        self.violations.append(Violation(field, description))

    def raise_if_any(self) -> None:
        if self.violations:
            raise InvalidArgument(self.violations)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
