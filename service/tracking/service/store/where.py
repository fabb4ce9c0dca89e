"""Parsed filter conditions -> SQL WHERE clauses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists

from tracking.service.domain.filters import Condition


def apply_conditions(
    query: Any,
    table: Any,
    label_table: Any,
    label_owner_column: str,
    owner_key: str,
    conditions: list[Condition],
) -> Any:
    """Add one WHERE clause per condition; labels go through the indexed label table."""
    for condition in conditions:
        if condition.field == "labels":
            match = exists().where(
                and_(
                    getattr(label_table, label_owner_column) == getattr(table, owner_key),
                    label_table.key == condition.label_key,
                    _compare(
                        label_table.value, "IN" if condition.op == "IN" else "=", condition.values
                    ),
                )
            )
            query = query.where(~match if condition.op == "!=" else match)
        else:
            query = query.where(
                _compare(getattr(table, condition.field), condition.op, condition.values)
            )
    return query


def _compare(column: Any, op: str, values: tuple[Any, ...]) -> Any:
    if op == "IN":
        return column.in_(values)
    value = values[0]
    return {
        "=": lambda: column == value,
        "!=": lambda: column != value,
        "<": lambda: column < value,
        "<=": lambda: column <= value,
        ">": lambda: column > value,
        ">=": lambda: column >= value,
    }[op]()
