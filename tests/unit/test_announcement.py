"""What replicas tell each other over NOTIFY (domain/announcement.py), and what the bridge
hands its hub (events/postgres.py), without a database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tracking.service.domain.announcement import (
    CHANNEL,
    MAX_PAYLOAD,
    Announcement,
    decode_announcement,
    encode_announcement,
)
from tracking.service.domain.events import ExecutionEvent
from tracking.service.events.hub import EventHub, SharedEvent, Topic
from tracking.service.events.postgres import PostgresBridge

T0 = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)


def event(phase: str = "training", stop_message: str = "", **fields: object) -> ExecutionEvent:
    values: dict[str, object] = {
        "id": 41,
        "execution_id": "dep-1a2b3c4d5e6f",
        "deployment_name": "dep",
        "revision": 7,
        "changes": "STATUS,PROGRESS",
        "job_status": {
            "status": "RUNNING",
            "progress": 0.25,
            "phase": phase,
            "stop_message": stop_message,
            "cancel_reason": "",
            "create_time": "2026-03-01T12:00:00+00:00",
            "start_time": "2026-03-01T12:00:01+00:00",
            "end_time": None,
            "update_time": T0.isoformat(),
            "revision": 7,
            "reported_duration_seconds": None,
        },
        "create_time": T0,
    }
    values.update(fields)
    return ExecutionEvent(**values)


def carrying(row: ExecutionEvent, replica_id: str = "a1b2c3d4") -> Announcement:
    return Announcement(replica_id, "event", row.execution_id, row.deployment_name, row)


def fields_of(row: ExecutionEvent | None) -> tuple[object, ...]:
    assert row is not None
    return (
        row.id,
        row.execution_id,
        row.deployment_name,
        row.revision,
        row.changes,
        row.job_status,
        row.create_time,
    )


@pytest.mark.parametrize(
    "phase",
    ["training", "a | b || c", "étape 2: 収束 🚀", 'quotes " and \\ and \n newline', ""],
)
def test_an_event_goes_and_comes_back_whole(phase: str) -> None:
    sent = event(phase)
    payload = encode_announcement(carrying(sent))
    assert payload.isascii()
    received = decode_announcement(payload)
    assert received is not None
    assert (received.replica_id, received.kind) == ("a1b2c3d4", "event")
    assert (received.execution_id, received.deployment_name) == ("dep-1a2b3c4d5e6f", "dep")
    assert fields_of(received.event) == fields_of(sent)


def test_an_event_without_a_deployment_comes_back_without_one() -> None:
    sent = event(deployment_name=None)
    received = decode_announcement(encode_announcement(carrying(sent)))
    assert received is not None
    assert received.deployment_name is None
    assert fields_of(received.event) == fields_of(sent)


def test_a_replica_that_knows_only_four_fields_reads_a_wake_up_for_the_right_execution() -> None:
    # What the decoder before carried events did: exactly four fields, kinds "logs" and
    # "deployment_deleted" apart, anything else waking the execution and its deployment.
    parts = encode_announcement(carrying(event("a | b"))).split("|")
    assert len(parts) == 4
    _replica_id, kind, execution_id, deployment_name = parts
    assert kind not in ("logs", "deployment_deleted")
    assert (execution_id, deployment_name) == ("dep-1a2b3c4d5e6f", "dep")


def test_an_event_too_large_for_a_notify_goes_as_a_wake_up() -> None:
    too_large = carrying(event("é" * 4096, stop_message="m" * 4096))
    payload = encode_announcement(too_large)
    assert payload == "a1b2c3d4|event|dep-1a2b3c4d5e6f|dep"
    received = decode_announcement(payload)
    assert received is not None
    assert (received.kind, received.execution_id, received.event) == (
        "event",
        "dep-1a2b3c4d5e6f",
        None,
    )


def test_the_largest_event_carried_stays_under_the_bound() -> None:
    base = len(encode_announcement(carrying(event(""))))
    fits = encode_announcement(carrying(event("x" * (MAX_PAYLOAD - base))))
    assert len(fits.encode()) == MAX_PAYLOAD < 8000
    assert decode_announcement(fits).event is not None  # type: ignore[union-attr]
    one_more = encode_announcement(carrying(event("x" * (MAX_PAYLOAD - base + 1))))
    assert decode_announcement(one_more).event is None  # type: ignore[union-attr]


def test_an_event_not_inserted_yet_goes_as_a_wake_up() -> None:
    assert encode_announcement(carrying(event(id=None))) == "a1b2c3d4|event|dep-1a2b3c4d5e6f|dep"


def test_the_old_four_field_form_is_a_wake_up() -> None:
    assert fields_of_announcement("0badcafe|event|exec-1|dep") == (
        "0badcafe",
        "event",
        "exec-1",
        "dep",
        None,
    )
    assert fields_of_announcement("0badcafe|event|exec-1|") == (
        "0badcafe",
        "event",
        "exec-1",
        None,
        None,
    )
    assert fields_of_announcement("0badcafe|logs|exec-1|dep") == (
        "0badcafe",
        "logs",
        "exec-1",
        "dep",
        None,
    )
    assert fields_of_announcement("0badcafe|deployment_deleted||dep") == (
        "0badcafe",
        "deployment_deleted",
        "",
        "dep",
        None,
    )


def fields_of_announcement(payload: str) -> tuple[object, ...]:
    announcement = decode_announcement(payload)
    assert announcement is not None
    return (
        announcement.replica_id,
        announcement.kind,
        announcement.execution_id,
        announcement.deployment_name,
        announcement.event,
    )


@pytest.mark.parametrize(
    "carried",
    [
        "{not json",
        "[]",
        "7",
        '{"id":1}',
        '{"id":"1","revision":2,"changes":"","job_status":{},"create_time":"2026-03-01T00:00:00+00:00"}',
        '{"id":1,"revision":2,"changes":"","job_status":[],"create_time":"2026-03-01T00:00:00+00:00"}',
        '{"id":1,"revision":2,"changes":"","job_status":{},"create_time":"2026-03-01T00:00:00"}',
        '{"id":1,"revision":2,"changes":"","job_status":{},"create_time":"yesterday"}',
        "[" * 5000,
    ],
)
def test_a_carried_event_this_version_cannot_read_is_a_wake_up(carried: str) -> None:
    assert fields_of_announcement(f"0badcafe|event:{carried}|exec-1|dep") == (
        "0badcafe",
        "event",
        "exec-1",
        "dep",
        None,
    )


@pytest.mark.parametrize("payload", ["", "hello", "a|b|c", "a|b|c|d|e", "|||||"])
def test_what_is_not_an_announcement_decodes_to_none(payload: str) -> None:
    assert decode_announcement(payload) is None


def test_the_bridge_hands_a_carried_event_to_the_watchers_of_its_execution() -> None:
    async def scenario() -> None:
        hub = EventHub()
        bridge = PostgresBridge("postgresql://localhost/test", hub, "b0b0b0b0")
        watchers = [hub.subscribe(Topic("execution", "dep-1a2b3c4d5e6f")) for _ in range(3)]
        follower = hub.subscribe(Topic("deployment", "dep"))
        sent = event()
        bridge._on_notify(None, 0, CHANNEL, encode_announcement(carrying(sent)))
        handed = [await w.next() for w in watchers]
        assert all(isinstance(item, SharedEvent) for item in handed)
        assert len({id(item) for item in handed}) == 1  # one object, encoded once for all
        assert isinstance(handed[0], SharedEvent)
        assert fields_of(handed[0].row) == fields_of(sent)
        assert await follower.next() is None  # woken: it reads the table in id order
        assert hub.events_fanned_out == 3

        # The old form, and an event too large to carry: a wake-up.
        bridge._on_notify(None, 0, CHANNEL, "0badcafe|event|dep-1a2b3c4d5e6f|dep")
        assert [await w.next() for w in watchers] == [None, None, None]
        # Its own announcements, and what is not one, change nothing.
        bridge._on_notify(None, 0, CHANNEL, encode_announcement(carrying(sent, "b0b0b0b0")))
        bridge._on_notify(None, 0, CHANNEL, "hello")
        assert [w.depth for w in watchers] == [0, 0, 0]
        assert hub.events_fanned_out == 3

    asyncio.run(scenario())


def test_lines_go_with_their_size_which_an_older_replica_reads_as_plain_logs() -> None:
    sent = Announcement("a1b2c3d4", "logs", "exec-1", "dep", size=120_000)
    payload = encode_announcement(sent)
    assert payload == "a1b2c3d4|logs:120000|exec-1|dep"
    received = decode_announcement(payload)
    assert received is not None
    assert (received.kind, received.execution_id, received.size) == ("logs", "exec-1", 120_000)
    # A decoder before sizes: the kind up to ":" (as it read "event:<JSON>").
    assert payload.split("|")[1].partition(":")[0] == "logs"
    for bad in ("logs:", "logs:x", "logs:-1", "logs:" + "9" * 40):
        received = decode_announcement(f"a1b2c3d4|{bad}|exec-1|dep")
        assert received is not None
        assert (received.kind, received.size) == ("logs", 0)
