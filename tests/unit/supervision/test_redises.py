"""One RedisLink per distinct Redis of the routes file: each group's jobs, queue depths and gate go to its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tables import make_table

from karafkad.config.settings import RedisSettings
from karafkad.supervision.redises import Redises

MAIN, HEAVY = "redis://127.0.0.1:9/0", "redis://127.0.0.1:9/1"
"""Port 9: never connected to by these tests."""


def two_groups(tmp_path: Path, heavy_redis: str = HEAVY, **daemon: Any) -> Any:
    return make_table(tmp_path, {
        "light": {"routes": [{"topic": "clicks", "handler": "h.handle", "queue": "clicks"}]},
        "heavy": {"redis": {"url": heavy_redis},
                  "routes": [{"topic": "orders", "handler": "h.handle", "queue": "orders"},
                             {"topic": "refunds", "handler": "h.handle", "queue": "refunds"}]}},
        redis={"url": MAIN}, daemon=daemon)


class TestRedises:
    """One link per distinct Redis of the routes file, and each group and queue on its own."""

    def test_each_distinct_redis_gets_one_link_and_each_group_its_own(self, tmp_path: Path) -> None:
        """Two Redis servers make two links; a group without its own Redis gets the top-level link, the same one
        every time."""
        config = two_groups(tmp_path).config
        redises = Redises(config)
        assert [link.settings.url for link in redises.links()] == [MAIN, HEAVY]
        assert redises.for_group(config, "light") is redises.default
        assert redises.for_group(config, "heavy").settings == RedisSettings(url=HEAVY)
        assert redises.for_group(config, "heavy") is redises.for_group(config, "heavy")

    def test_groups_naming_the_same_redis_as_the_top_level_share_its_link(self, tmp_path: Path) -> None:
        """A group's `redis` equal to the top-level one is that link, not a second client."""
        config = two_groups(tmp_path, heavy_redis=MAIN).config
        redises = Redises(config)
        assert len(redises.links()) == 1
        assert redises.for_group(config, "heavy") is redises.default

    def test_queue_depths_are_asked_of_the_redis_each_queue_lives_on(self, tmp_path: Path) -> None:
        """One question per Redis, for the queues written there; the answers merged."""
        config = two_groups(tmp_path).config
        redises = Redises(config)
        asked: dict[str, list[str]] = {}
        for link in redises.links():
            url = link.settings.url or ""
            link.queue_lengths.read = (  # type: ignore[method-assign]
                lambda queues, url=url: asked.setdefault(url, []).extend(queues) or {q: len(url) for q in queues})
        lengths = redises.queue_lengths(config, ["clicks", "orders", "refunds"])
        assert asked == {MAIN: ["clicks"], HEAVY: ["orders", "refunds"]}
        assert set(lengths) == {"clicks", "orders", "refunds"}

    def test_each_queue_gate_watches_only_the_queues_of_its_redis(self, tmp_path: Path) -> None:
        """The high watermark is per Redis: a full queue on one server does not pause the groups of another."""
        config = two_groups(tmp_path, queue_high_watermark=1000).config
        redises = Redises(config)
        gates = {link.settings.url: link.gate for link in redises.links()}
        assert gates[MAIN] is not None and gates[MAIN].queues == ("clicks",)
        assert gates[HEAVY] is not None and gates[HEAVY].queues == ("orders", "refunds")

    def test_replica_acknowledgements_are_per_redis(self, tmp_path: Path) -> None:
        """min_replicas_acked and its timeout are the enqueuer's of that Redis only."""
        table = make_table(tmp_path, {
            "light": {"routes": [{"topic": "clicks", "handler": "h.handle", "queue": "clicks"}]},
            "heavy": {"redis": {"url": HEAVY, "min_replicas_acked": 1, "replica_ack_timeout_ms": 300},
                      "routes": [{"topic": "orders", "handler": "h.handle", "queue": "orders"}]}},
            redis={"url": MAIN})
        redises = Redises(table.config)
        heavy = redises.for_group(table.config, "heavy").enqueuer
        assert (heavy.min_replicas, heavy.replica_timeout_ms) == (1, 300)
        assert redises.default.enqueuer.min_replicas == 0


