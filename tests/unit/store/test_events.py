"""store/events.py: the operator commands' notes, kept in a capped Redis list for the status pages."""

from __future__ import annotations

import json

import redis
from redis_fakes import FakeRedis

from karafkad.store import events
from karafkad.store.keys import EVENTS_KEY


class TestEvents:
    def test_an_event_is_read_back_newest_first(self) -> None:
        """What `record` notes (kind, message, extra fields, a time) `recent` gives back, the newest first."""
        client = FakeRedis()
        events.record(client, "replay", "replay 1 of group g", group="g")  # type: ignore[arg-type]
        events.record(client, "redrive", "re-drive: 2 jobs")  # type: ignore[arg-type]
        newest, oldest = events.recent(client)  # type: ignore[arg-type]
        assert (newest["kind"], newest["message"]) == ("redrive", "re-drive: 2 jobs")
        assert (oldest["kind"], oldest["group"]) == ("replay", "g")
        assert isinstance(oldest["time"], float)

    def test_only_the_newest_are_kept(self) -> None:
        """The list is trimmed to KEPT events on each note."""
        client = FakeRedis()
        for n in range(events.KEPT + 5):
            events.record(client, "replay", f"replay {n}")  # type: ignore[arg-type]
        assert len(client.lists[EVENTS_KEY]) == events.KEPT
        assert events.recent(client, 1)[0]["message"] == f"replay {events.KEPT + 4}"  # type: ignore[arg-type]

    def test_a_redis_that_does_not_answer_loses_the_note_only(self) -> None:
        """`record` does not raise: the operation it notes has already happened."""
        client = FakeRedis()
        client.fail = redis.ConnectionError("refused")
        events.record(client, "replay", "replay 1")  # type: ignore[arg-type]
        assert client.round_trips == 1 and client.lists == {}

    def test_entries_that_are_not_events_are_passed_over(self) -> None:
        """Text that is not JSON, or JSON that is not an object, is skipped."""
        client = FakeRedis()
        client.lists[EVENTS_KEY] = [b"not json", json.dumps([1]).encode(), json.dumps({"kind": "replay"}).encode()]
        assert events.recent(client) == [{"kind": "replay"}]  # type: ignore[arg-type]
