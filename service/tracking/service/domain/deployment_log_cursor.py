"""Where a deployment-wide log stream stands, as its resume_token carries it.

Executions are found two ways. Those that existed when the stream opened are listed in
(create_time, execution_id) order; those created later are found by their CREATED event,
in event-id (commit) order. An execution whose CREATED event comes after the listing's
cutoff is left to the events, so none is found twice. Only executions that may still
send lines are kept with their seq: an ended execution whose lines were all sent is
dropped.

A token carries at most MAX_TOKEN_EXECUTIONS executions' seqs, however many run at once:
past that, the stream saves its position (a row of its own, named by id,
store/deployment_logs.py) and its tokens carry that id and only the seqs that moved since
(an execution dropped after it moved stays among them with its last seq).

A saved position is a link of a chain: the seqs that moved since the position it builds on
(its parent), or, when those and the links before them since the last full copy would
outweigh one, a full copy of every seq followed (a chain's root). Saving thus costs at most
two pairs per seq moved, whatever the number of executions followed, and a resume reads
one chain of at most twice a full copy's pairs.

The seqs note which executions were set since the base was saved, so that what moved is
worked out from those alone: a stream checks it once per execution per round, and going
through every seq followed each time made a round over 5,000 executions take seconds of the
event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracking.service.domain.errors import InvalidArgument

# The most executions a token lists: with execution ids of 128 characters at most, a token
# stays under 4 KB (a Last-Event-ID header any browser and proxy passes).
MAX_TOKEN_EXECUTIONS = 16


class FollowedSeqs(dict[str, int]):
    """Execution -> seq, noting the executions whose seq was set since `settled`."""

    def __init__(self, seqs: dict[str, int] | None = None) -> None:
        super().__init__(seqs or {})
        # In insertion order, as a token lists them; all of them may differ from a base.
        self.touched: dict[str, None] = dict.fromkeys(self)

    def __setitem__(self, execution_id: str, seq: int) -> None:
        self.touched[execution_id] = None
        super().__setitem__(execution_id, seq)

    def update(self, *args: Any, **kwargs: int) -> None:
        for execution_id, seq in dict(*args, **kwargs).items():
            self[execution_id] = seq

    def pop(self, execution_id: str, *default: Any) -> Any:
        self.touched.pop(execution_id, None)
        return super().pop(execution_id, *default)

    def settled(self, touched: list[str] | None = None) -> None:
        """None set since (or only `touched`): the base holds the others' seqs."""
        self.touched = dict.fromkeys(touched or [])


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
    # The root of the base's chain, when it was saved, and the pairs of the links since.
    root_id: int | None = None
    root_time: datetime | None = None
    chain_pairs: int = 0
    # Executions of the base dropped (all their lines sent) after they moved: their last seq.
    finished: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seqs = FollowedSeqs(self.seqs)

    @property
    def listing(self) -> bool:
        return self.listing_cutoff is not None

    def moved(self) -> dict[str, int]:
        """The seqs a token lists: those that differ from the base."""
        moved = dict(self.finished)
        seqs = self._followed()
        moved.update((k, seqs[k]) for k in seqs.touched if self.base_seqs.get(k) != seqs[k])
        return moved

    def _followed(self) -> FollowedSeqs:
        if not isinstance(self.seqs, FollowedSeqs):
            self.seqs = FollowedSeqs(self.seqs)  # assigned whole: any may have moved
        return self.seqs

    @property
    def needs_base(self) -> bool:
        """Whether a token would list too many executions (one more may move before the
        next token): the seqs must be saved first."""
        return len(self.moved()) >= MAX_TOKEN_EXECUTIONS

    def to_save(self, now: datetime, roots_after: datetime) -> SavedPosition:
        """What saving the position at `now` writes: the seqs that moved since the base,
        or all seqs once the chain's links would outweigh a full copy, or once its root
        was saved before `roots_after` (a chain retention may soon take is not built on)."""
        moved = self.moved()
        if (
            self.base_id is None
            or self.root_time is None
            or self.root_time < roots_after
            or self.chain_pairs + len(moved) > len(self.seqs)
        ):
            return SavedPosition(dict(self.seqs), parent_id=None, root_id=None, create_time=now)
        return SavedPosition(moved, self.base_id, self.root_id, create_time=now)

    def based_on(self, base_id: int, saved: SavedPosition) -> None:
        """The seqs as they stand were saved (as `saved`) under `base_id`."""
        self.base_id = base_id
        self.base_seqs = dict(self.seqs)
        self._followed().settled()
        self.finished.clear()
        if saved.parent_id is None:
            self.root_id, self.root_time, self.chain_pairs = base_id, saved.create_time, 0
        else:
            self.root_id = saved.root_id
            self.chain_pairs += len(saved.seqs)

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

    def with_base(self, chain: list[SavedPosition]) -> None:
        """Load the base the token named, as the chain from its root to it: the seqs the
        token lists move on from there."""
        base_seqs: dict[str, int] = {}
        for link in chain:
            base_seqs.update(link.seqs)
        self.base_seqs = base_seqs
        moved = list(self.seqs)
        self.seqs = FollowedSeqs({**base_seqs, **self.seqs})
        self.seqs.settled(moved)
        self.root_id, self.root_time = chain[0].id, chain[0].create_time
        self.chain_pairs = sum(len(link.seqs) for link in chain[1:])


@dataclass(frozen=True)
class SavedPosition:
    """One link of a chain of saved positions: the seqs that moved since its parent, or
    (without one) every seq followed; `root_id` is the chain's root, and `id` the link's
    own once saved."""

    seqs: dict[str, int]
    parent_id: int | None
    root_id: int | None
    create_time: datetime | None = None
    id: int | None = None

    def pairs(self) -> list[list[Any]]:
        return [[k, v] for k, v in self.seqs.items()]


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
