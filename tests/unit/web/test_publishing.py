"""web/publishing.py: a daemon publishes its snapshot (without the deployment's events) and samples its numbers
into the history, per group and queue."""

from __future__ import annotations

import json

from redis_fakes import FakeRedis
from web_fakes import Board

from karafkad.store import history
from karafkad.store.keys import instance_key
from karafkad.web.publishing import Publisher


class TestPublisher:
    def test_the_snapshot_is_published_under_the_daemons_name(self) -> None:
        """The snapshot is published under the daemons name."""
        fake, client = Board(), FakeRedis()
        fake.board.operations = lambda: [{"kind": "pause"}]
        Publisher(client, fake.board, "web-1", clock=lambda: 5000.0).publish()  # type: ignore[arg-type]
        published = json.loads(client.strings[instance_key("web-1")])
        assert published["routes"][0]["name"] == "orders" and "operations" not in published

    def test_the_numbers_sampled_per_group_and_queue(self) -> None:
        """Counters summed over the group's topics and routes (dead letters over their kinds), lag over its
        partitions, each routed queue's depth."""
        numbers = Publisher(FakeRedis(), Board().board, "a").numbers()  # type: ignore[arg-type]
        assert numbers.counters == {"group:consumed:shop": 10, "group:enqueued:shop": 8,
                                    "group:dead_lettered:shop": 2}
        assert numbers.readings == {"group:lag:shop": 4}
        assert numbers.shared == {"queue:depth:q-big": 0, "queue:depth:q-orders": 3}

    def test_a_sample_lands_in_the_history(self) -> None:
        """A sample lands in the history."""
        client = FakeRedis()
        Publisher(client, Board().board, "a", clock=lambda: 5000.0).sample()  # type: ignore[arg-type]
        found = history.read(client, 5000.0, 5000.0)  # type: ignore[arg-type]
        assert found["group:consumed:shop"] == [(5000.0, 10)] and found["queue:depth:q-orders"] == [(5000.0, 3)]
