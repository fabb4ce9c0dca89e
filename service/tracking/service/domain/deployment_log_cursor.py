"""Where a deployment-wide log stream stands, as its resume_token carries it.

Executions are found two ways. Those that existed when the stream opened are listed in
(create_time, execution_id) order; those created later are found by their CREATED event,
in event-id (commit) order. An execution whose CREATED event comes after the listing's
cutoff is left to the events, so none is found twice. Only executions that may still
send lines are kept with their seq: an ended execution whose lines were all sent is
dropped.

A token carries at most MAX_TOKEN_EXECUTIONS executions' seqs, however many run at once:
past that, the stream saves the seqs of all it follows (a row of its own, named by id,
store/deployment_logs.py) and its tokens carry that id and only the seqs that moved since
(an execution dropped after it moved stays among them with its last seq).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracking.service.domain.errors import InvalidArgument

# The most executions a token lists: with execution ids of 128 characters at most, a token
# stays under 4 KB (a Last-Event-ID header any browser and proxy passes).
MAX_TOKEN_EXECUTIONS = 16


def _not_issued() -> InvalidArgument:
    return InvalidArgument.of("resume_token", "is not a token this service issued")


@dataclass
class DeploymentLogCursor:
    # Every event of the deployment up to this id was looked at.
    events_after: int
    # Still listing the executions that existed at the start: those created by an event
    # after this id are found by events instead.
    listing_cutoff: int | None
    # The (create_time, execution_id) of the last execution listed.
    listed_after: tuple[datetime, str] | None = None
    # Executions that may still send lines -> the seq their lines were read up to.
    seqs: dict[str, int] = field(default_factory=dict)
    # The saved seqs the tokens build on (their id; None: nothing saved yet).
    base_id: int | None = None
    base_seqs: dict[str, int] = field(default_factory=dict)
    # Executions of the base dropped (all their lines sent) after they moved: their last seq.
    finished: dict[str, int] = field(default_factory=dict)

    @property
    def listing(self) -> bool:
        return self.listing_cutoff is not None

    def moved(self) -> dict[str, int]:
        """The seqs a token lists: those that differ from the base."""
        moved = dict(self.finished)
        moved.update((k, v) for k, v in self.seqs.items() if self.base_seqs.get(k) != v)
        return moved

    @property
    def needs_base(self) -> bool:
        """Whether a token would list too many executions (one more may move before the
        next token): the seqs must be saved first."""
        return len(self.moved()) >= MAX_TOKEN_EXECUTIONS

    def based_on(self, base_id: int) -> None:
        """The seqs as they stand were saved as `base_id`."""
        self.base_id = base_id
        self.base_seqs = dict(self.seqs)
        self.finished.clear()

    def finish(self, execution_id: str) -> None:
        """Stop following an execution whose lines were all sent."""
        seq = self.seqs.pop(execution_id)
        if execution_id in self.base_seqs and self.base_seqs[execution_id] != seq:
            self.finished[execution_id] = seq

    def position(self, execution_id: str = "", seq: int = 0) -> dict[str, Any]:
        """The token's content; with an execution, as if its lines were read up to `seq`."""
        seqs = self.moved()
        if execution_id:
            seqs[execution_id] = seq
        position: dict[str, Any] = {"e": self.events_after, "o": [[k, v] for k, v in seqs.items()]}
        if self.base_id is not None:
            position["b"] = self.base_id
        if self.listing_cutoff is not None:
            after = self.listed_after
            position["l"] = [
                self.listing_cutoff,
                None if after is None else [after[0].isoformat(), after[1]],
            ]
        return position

    @classmethod
    def from_position(cls, position: dict[str, Any]) -> DeploymentLogCursor:
        """The cursor a token carried (its base, if any, still to load: with_base);
        INVALID_ARGUMENT on resume_token if malformed."""
        try:
            events_after = position["e"]
            seqs = seqs_of(position["o"])
            listing = position.get("l")
            base_id = position.get("b")
            if not _is_count(events_after) or not (base_id is None or _is_count(base_id)):
                raise _not_issued()
            cutoff: int | None = None
            listed_after: tuple[datetime, str] | None = None
            if listing is not None:
                cutoff, after = listing
                if not _is_count(cutoff):
                    raise _not_issued()
                if after is not None:
                    time_text, last_id = after
                    if not isinstance(last_id, str):
                        raise _not_issued()
                    listed_after = (datetime.fromisoformat(time_text), last_id)
        except (KeyError, TypeError, ValueError):
            raise _not_issued() from None
        return cls(events_after, cutoff, listed_after, seqs, base_id)

    def with_base(self, base_seqs: dict[str, int]) -> None:
        """Load the base the token named: the seqs it lists move on from there."""
        self.base_seqs = dict(base_seqs)
        self.seqs = {**base_seqs, **self.seqs}


def seqs_of(pairs: Any) -> dict[str, int]:
    """[[execution_id, seq], ...] as a dict; INVALID_ARGUMENT on resume_token if malformed."""
    if not isinstance(pairs, list):
        raise _not_issued()
    seqs: dict[str, int] = {}
    try:
        for pair in pairs:
            execution_id, seq = pair
            if not isinstance(execution_id, str) or not _is_count(seq):
                raise _not_issued()
            seqs[execution_id] = seq
    except (TypeError, ValueError):
        raise _not_issued() from None
    return seqs


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
