"""The list filter language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracking.service.domain.errors import InvalidArgument
from tracking.service.domain.executions import FILTER_FIELDS
from tracking.service.domain.filters import Condition, canonical, parse


def test_conditions_joined_by_and() -> None:
    parsed = parse(
        'deployment_name = "nightly" and status IN (running, WAITING) AND labels.team/sub = ml '
        'AND create_time >= "2026-01-01T00:00:00Z"',
        FILTER_FIELDS,
    )
    assert parsed == [
        Condition("deployment_name", "=", ("nightly",)),
        Condition("status", "IN", ("RUNNING", "WAITING")),
        Condition("labels", "=", ("ml",), label_key="team/sub"),
        Condition("create_time", ">=", (datetime(2026, 1, 1, tzinfo=UTC),)),
    ]


def test_quoted_values_keep_spaces_and_escapes() -> None:
    assert parse(r'pipeline_name = "a \"b\" c"', FILTER_FIELDS)[0].values == ('a "b" c',)


def test_empty_filter_is_no_condition() -> None:
    assert parse("   ", FILTER_FIELDS) == []


def test_canonical_form_ignores_order() -> None:
    a = parse("status = RUNNING AND pipeline_name = p", FILTER_FIELDS)
    b = parse("pipeline_name = p AND status = running", FILTER_FIELDS)
    assert canonical(a) == canonical(b)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("colour = red", "unknown field 'colour'"),
        ("status = FLYING", "'FLYING' is not a status"),
        ("status < RUNNING", "does not apply"),
        ('create_time > "soon"', "not an RFC 3339 time"),
        ("status IN RUNNING", "list in parentheses"),
        ("status IN (RUNNING WAITING)", "expected , or )"),
        ("status =", "ends early"),
        ("status = RUNNING status = WAITING", "expected AND"),
        ("labels. = x", "label key"),
        ("status = RUNNING; DROP TABLE", "unexpected character"),
        ("x" * 3000, "at most"),
    ],
)
def test_bad_filters_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse(text, FILTER_FIELDS)
    violation = caught.value.violations[0]
    assert violation.field == "filter"
    assert fragment in violation.description
