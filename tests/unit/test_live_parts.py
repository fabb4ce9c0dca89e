"""Which changes with no new revision change what an execution's stored message shows."""

from __future__ import annotations

from datetime import UTC, datetime

from tracking.service.domain.live_parts import changes_shown, duration_is_live, lease_is_live

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_renewed_lease_of_a_leased_execution_is_added_as_read() -> None:
    assert lease_is_live("RUNNING")
    assert lease_is_live("CANCEL_REQUESTED")
    assert not changes_shown("RUNNING", {"last_heartbeat_time", "lease_expire_time"})
    assert not changes_shown("RUNNING", {"lapsed_from", "log_seq"})


def test_lease_columns_of_an_execution_without_a_lease_are_in_its_message() -> None:
    for status in ("WAITING", "SUSPENDED", "UNKNOWN", "SUCCESS"):
        assert not lease_is_live(status)
        assert changes_shown(status, {"lease_expire_time"})


def test_any_other_column_is_in_the_message() -> None:
    assert changes_shown("RUNNING", {"last_heartbeat_time", "phase"})


def test_only_a_started_unfinished_unreported_duration_grows() -> None:
    assert duration_is_live(NOW, None, None)
    assert not duration_is_live(None, None, None)
    assert not duration_is_live(NOW, NOW, None)
    assert not duration_is_live(NOW, None, 90.0)
