"""Where a deployment-wide log stream stands, as its resume_token carries it.

Executions are found two ways. Those that existed when the stream opened are listed in
(create_time, execution_id) order; those created later are found by their CREATED event,
in event-id (commit) order. An execution whose CREATED event comes after the listing's
cutoff is left to the events, so none is found twice. Only executions that may still
send lines are kept with their seq: an ended execution whose lines were all sent is
dropped, which keeps the token small however many executions the deployment had.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracking.service.domain.errors import InvalidArgument


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

    @property
    def listing(self) -> bool:
        return self.listing_cutoff is not None

    def position(self, execution_id: str = "", seq: int = 0) -> dict[str, Any]:
        """The token's content; with an execution, as if its lines were read up to `seq`."""
        seqs = dict(self.seqs)
        if execution_id:
            seqs[execution_id] = seq
        position: dict[str, Any] = {"e": self.events_after, "o": [[k, v] for k, v in seqs.items()]}
        if self.listing_cutoff is not None:
            after = self.listed_after
            position["l"] = [
                self.listing_cutoff,
                None if after is None else [after[0].isoformat(), after[1]],
            ]
        return position

    @classmethod
    def from_position(cls, position: dict[str, Any]) -> DeploymentLogCursor:
        """The cursor a token carried; INVALID_ARGUMENT on resume_token if malformed."""
        try:
            events_after = position["e"]
            pairs = position["o"]
            listing = position.get("l")
            if not _is_count(events_after) or not isinstance(pairs, list):
                raise _not_issued()
            seqs: dict[str, int] = {}
            for pair in pairs:
                execution_id, seq = pair
                if not isinstance(execution_id, str) or not _is_count(seq):
                    raise _not_issued()
                seqs[execution_id] = seq
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
        return cls(events_after, cutoff, listed_after, seqs)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
