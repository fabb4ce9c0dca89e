"""The cursor of a deployment-wide log stream, as its resume_token carries it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tracking.service.domain.deployment_log_cursor import MAX_TOKEN_EXECUTIONS, DeploymentLogCursor
from tracking.service.domain.errors import InvalidArgument


def test_round_trip_while_listing_and_after() -> None:
    listing = DeploymentLogCursor(
        events_after=7,
        listing_cutoff=5,
        listed_after=(datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), "e-2"),
        seqs={"e-1": 3, "e-2": 0},
    )
    assert DeploymentLogCursor.from_position(listing.position()) == listing
    listed = DeploymentLogCursor(events_after=9, listing_cutoff=None, seqs={"e-3": 12})
    assert DeploymentLogCursor.from_position(listed.position()) == listed
    assert "l" not in listed.position()


def test_a_position_for_one_execution_changes_only_its_seq() -> None:
    cursor = DeploymentLogCursor(events_after=1, listing_cutoff=None, seqs={"a": 4, "b": 2})
    moved = DeploymentLogCursor.from_position(cursor.position("a", 9))
    assert moved.seqs == {"a": 9, "b": 2}
    assert cursor.seqs == {"a": 4, "b": 2}
    assert DeploymentLogCursor.from_position(cursor.position("c", 1)).seqs["c"] == 1


@pytest.mark.parametrize(
    "position",
    [
        {},
        {"e": -1, "o": []},
        {"e": True, "o": []},
        {"e": 1, "o": {"a": 1}},
        {"e": 1, "o": [["a"]]},
        {"e": 1, "o": [[3, 1]]},
        {"e": 1, "o": [["a", -2]]},
        {"e": 1, "o": [], "l": [1]},
        {"e": 1, "o": [], "l": ["x", None]},
        {"e": 1, "o": [], "l": [1, ["not a time", "a"]]},
        {"e": 1, "o": [], "l": [1, ["2026-01-01T00:00:00+00:00", 5]]},
    ],
)
def test_malformed_positions_are_invalid_resume_tokens(position: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        DeploymentLogCursor.from_position(position)
    assert [v.field for v in caught.value.violations] == ["resume_token"]


def test_a_token_lists_only_what_moved_since_its_base() -> None:
    cursor = DeploymentLogCursor(
        events_after=1, listing_cutoff=None, seqs={f"e-{i}": 0 for i in range(100)}
    )
    assert cursor.needs_base
    cursor.based_on(42)
    assert not cursor.needs_base
    cursor.seqs["e-1"] = 5
    cursor.finish("e-1")  # all its lines were sent: its last seq stays among the moved
    cursor.finish("e-2")  # it had not moved: the base says it all
    position = cursor.position("e-3", 7)
    assert (position["b"], position["o"]) == (42, [["e-1", 5], ["e-3", 7]])
    resumed = DeploymentLogCursor.from_position(position)
    resumed.with_base({f"e-{i}": 0 for i in range(100)})
    assert resumed.seqs == {**{f"e-{i}": 0 for i in range(100)}, "e-1": 5, "e-3": 7}
    assert resumed.moved() == {"e-1": 5, "e-3": 7}
    for index in range(4, 4 + MAX_TOKEN_EXECUTIONS):
        cursor.seqs[f"e-{index}"] = 1
    assert cursor.needs_base
