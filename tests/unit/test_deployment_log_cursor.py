"""The cursor of a deployment-wide log stream, as its resume_token carries it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tracking.service.domain.deployment_log_cursor import (
    MAX_TOKEN_EXECUTIONS,
    DeploymentLogCursor,
    SavedPosition,
)
from tracking.service.domain.errors import InvalidArgument

NOW = datetime(2026, 12, 7, tzinfo=UTC)
ROOTS_AFTER = NOW - timedelta(days=3)


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
    cursor.based_on(42, cursor.to_save(NOW, ROOTS_AFTER))
    assert not cursor.needs_base
    cursor.seqs["e-1"] = 5
    cursor.finish("e-1")  # all its lines were sent: its last seq stays among the moved
    cursor.finish("e-2")  # it had not moved: the base says it all
    position = cursor.position("e-3", 7)
    assert (position["b"], position["o"]) == (42, [["e-1", 5], ["e-3", 7]])
    resumed = DeploymentLogCursor.from_position(position)
    resumed.with_base([SavedPosition({f"e-{i}": 0 for i in range(100)}, None, None, NOW, 42)])
    assert resumed.seqs == {**{f"e-{i}": 0 for i in range(100)}, "e-1": 5, "e-3": 7}
    assert resumed.moved() == {"e-1": 5, "e-3": 7}
    for index in range(4, 4 + MAX_TOKEN_EXECUTIONS):
        cursor.seqs[f"e-{index}"] = 1
    assert cursor.needs_base


def _moved(cursor: DeploymentLogCursor, first: int, count: int, seq: int) -> None:
    for index in range(first, first + count):
        cursor.seqs[f"e-{index}"] = seq


def test_a_save_writes_what_moved_until_that_outweighs_every_seq() -> None:
    followed = 64
    cursor = DeploymentLogCursor(
        events_after=1, listing_cutoff=None, seqs={f"e-{i}": 0 for i in range(followed)}
    )
    written: list[SavedPosition] = []
    for save in range(12):
        saved = cursor.to_save(NOW, ROOTS_AFTER)
        written.append(saved)
        cursor.based_on(100 + save, saved)
        _moved(cursor, (save * MAX_TOKEN_EXECUTIONS) % followed, MAX_TOKEN_EXECUTIONS, save + 1)
    roots = [saved for saved in written if saved.parent_id is None]
    assert [len(saved.seqs) for saved in roots] == [followed] * len(roots)
    links = [saved for saved in written if saved.parent_id is not None]
    assert {len(saved.seqs) for saved in links} == {MAX_TOKEN_EXECUTIONS}
    # A full copy once the links since the last one would outweigh it: no more than two
    # pairs written per seq moved (and the first copy).
    moved = MAX_TOKEN_EXECUTIONS * (len(written) - 1)
    assert sum(len(saved.seqs) for saved in written) <= followed + 2 * moved
    assert written[1] == SavedPosition(
        {f"e-{i}": 1 for i in range(MAX_TOKEN_EXECUTIONS)}, 100, 100, create_time=NOW
    )
    assert written[2].parent_id == 101
    assert written[2].root_id == 100


def test_a_resumed_cursor_reads_its_chain_and_saves_on_it() -> None:
    root = SavedPosition({"a": 1, "b": 1, "c": 1}, None, None, NOW, 7)
    link = SavedPosition({"a": 5, "d": 2}, 7, 7, NOW, 9)
    cursor = DeploymentLogCursor.from_position({"e": 3, "o": [["b", 4]], "b": 9})
    cursor.with_base([root, link])
    assert cursor.seqs == {"a": 5, "b": 4, "c": 1, "d": 2}
    assert cursor.moved() == {"b": 4}
    assert (cursor.root_id, cursor.root_time, cursor.chain_pairs) == (7, NOW, 2)
    later = NOW + timedelta(hours=1)
    assert cursor.to_save(later, ROOTS_AFTER) == SavedPosition({"b": 4}, 9, 7, later)
    # A root saved before `roots_after` is not built on: retention may soon take it.
    assert cursor.to_save(later, NOW + timedelta(seconds=1)) == SavedPosition(
        {"a": 5, "b": 4, "c": 1, "d": 2}, None, None, later
    )
    cursor.seqs.update(c=6, d=3)
    # Links of 2 + 3 pairs would outweigh the 4 seqs: a full copy instead.
    assert cursor.to_save(later, ROOTS_AFTER) == SavedPosition(
        {"a": 5, "b": 4, "c": 6, "d": 3}, None, None, later
    )


class _CountedLookups(dict[str, int]):
    def __init__(self, seqs: dict[str, int]) -> None:
        super().__init__(seqs)
        self.lookups = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.lookups += 1
        return super().get(key, default)


def test_what_moved_is_worked_out_from_the_executions_set_since_the_base() -> None:
    # A stream checks needs_base once per execution per round: going through every seq
    # followed each time held the event loop for seconds over thousands of executions.
    followed = 5_000
    cursor = DeploymentLogCursor(
        events_after=1, listing_cutoff=None, seqs={f"e-{i}": 0 for i in range(followed)}
    )
    cursor.based_on(42, cursor.to_save(NOW, ROOTS_AFTER))
    cursor.base_seqs = base = _CountedLookups(cursor.base_seqs)
    cursor.seqs["e-7"] = 3
    cursor.seqs["e-9"] = 0  # set to its base's seq: not moved
    for _ in range(followed):
        assert not cursor.needs_base
    assert cursor.moved() == {"e-7": 3}
    assert base.lookups <= 3 * (followed + 1)
    resumed = DeploymentLogCursor.from_position(cursor.position("e-8", 4))
    resumed.with_base([SavedPosition({f"e-{i}": 0 for i in range(followed)}, None, None, NOW, 42)])
    resumed.base_seqs = base = _CountedLookups(resumed.base_seqs)
    assert resumed.moved() == {"e-7": 3, "e-8": 4}
    assert base.lookups == 2
