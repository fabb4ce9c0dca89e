"""Domain errors map to status codes by their class hierarchy."""

from __future__ import annotations

from google.rpc import code_pb2

from tracking.service.domain import errors
from tracking.service.errors import code_of


class StepNotFound(errors.NotFound):
    pass


def test_a_subclass_takes_the_code_of_its_base() -> None:
    assert code_of(StepNotFound("step", "load")) == code_pb2.NOT_FOUND
    assert code_of(errors.NotFound("execution", "x")) == code_pb2.NOT_FOUND
    assert code_of(errors.Aborted("revision moved")) == code_pb2.ABORTED


def test_a_bare_domain_error_is_internal() -> None:
    assert code_of(errors.DomainError("no kind")) == code_pb2.INTERNAL
