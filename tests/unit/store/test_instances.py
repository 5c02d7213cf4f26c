"""store/instances.py: every daemon publishes its snapshot with a short expiry; a console reads them all, and a
daemon whose snapshot expired is listed as gone until GONE_KEPT."""

from __future__ import annotations

import json

from redis_fakes import FakeRedis

from karafkad.store import instances
from karafkad.store.keys import INSTANCES_KEY, instance_key


class TestInstances:
    def test_a_published_snapshot_is_read_back_with_when_it_was_seen(self) -> None:
        """One round trip writes the snapshot (with its expiry) and notes the daemon as seen."""
        client = FakeRedis()
        instances.publish(client, "b", {"state": "running"}, now=100.0)  # type: ignore[arg-type]
        instances.publish(client, "a", {"state": "draining"}, now=101.0)  # type: ignore[arg-type]
        assert client.round_trips == 2
        assert client.ttls[instance_key("a")] == instances.SNAPSHOT_TTL
        found = instances.read_all(client)  # type: ignore[arg-type]
        assert [(i.name, i.seen_at, i.snapshot, i.gone) for i in found] == [
            ("a", 101.0, {"state": "draining"}, False), ("b", 100.0, {"state": "running"}, False)]

    def test_a_daemon_whose_snapshot_expired_is_gone_not_forgotten(self) -> None:
        """Its snapshot expired (Redis dropped it): listed as gone, with when it was last seen."""
        client = FakeRedis()
        instances.publish(client, "killed", {"state": "running"}, now=100.0)  # type: ignore[arg-type]
        del client.strings[instance_key("killed")]  # what the expiry does
        [gone] = instances.read_all(client)  # type: ignore[arg-type]
        assert (gone.name, gone.seen_at, gone.gone) == ("killed", 100.0, True)

    def test_daemons_gone_longer_than_kept_are_forgotten(self) -> None:
        """Each publication prunes the set: a daemon not seen for GONE_KEPT is no longer listed."""
        client = FakeRedis()
        instances.publish(client, "old", {}, now=100.0)  # type: ignore[arg-type]
        instances.publish(client, "new", {}, now=100.0 + instances.GONE_KEPT + 1)  # type: ignore[arg-type]
        assert set(client.zsets[INSTANCES_KEY]) == {b"new"}

    def test_a_snapshot_that_is_not_json_counts_as_gone(self) -> None:
        """A snapshot that is not JSON counts as gone."""
        client = FakeRedis()
        instances.publish(client, "a", {}, now=1.0)  # type: ignore[arg-type]
        client.strings[instance_key("a")] = b"{not json"
        assert instances.read_all(client)[0].gone  # type: ignore[arg-type]

    def test_values_json_cannot_hold_are_published_as_text(self) -> None:
        """A value JSON cannot hold is published as its text rather than failing the publication."""
        client = FakeRedis()
        instances.publish(client, "a", {"at": {1, 2}.__class__}, now=1.0)  # type: ignore[arg-type]
        assert json.loads(client.strings[instance_key("a")]) == {"at": "<class 'set'>"}

    def test_nobody_published(self) -> None:
        """Nobody published: no daemon, and one round trip to find out."""
        client = FakeRedis()
        assert instances.read_all(client) == [] and client.round_trips == 1  # type: ignore[arg-type]
