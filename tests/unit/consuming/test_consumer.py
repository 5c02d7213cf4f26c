"""consuming/consumer.py: a group member that outlives its Kafka consumers (replaced when broken, closed with a
last commit, stopped for good when fenced), and what the status page asks it.

The loop each consumer runs is tests/unit/consuming/test_poll_loop.py's.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from kafka import TopicPartition
from kafka_fakes import FakeConsumer, ParkedRecords
from loop_fakes import TP0, TP1, fast_backoff, make_services, make_thread
from tables import make_table, records

from karafkad.clients.kafka.workarounds.fencing import fencing
from karafkad.consuming.consumer import ConsumerThread


class TestConsumerThread:
    def test_an_error_that_is_not_about_a_batch_replaces_the_client(self, monkeypatch: Any, tmp_path: Path) -> None:
        """Nothing parked: the consumer is closed and a new one made (the thread does not die)."""
        fast_backoff(monkeypatch)
        made: list[FakeConsumer] = []

        def broken(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            raise RuntimeError("connection reset")

        table = make_table(tmp_path, {"g": {"routes": [{"topic": "t", "handler": "h.handle", "queue": "q"}]}})
        group = table.groups["g"]
        stop = threading.Event()

        def factory(*_: Any) -> FakeConsumer:
            made.append(FakeConsumer([broken] if not made else [], stop, {TP0}))
            return made[-1]

        thread = ConsumerThread(group.spec, 0, lambda: group, make_services(factory=factory), stop)
        thread.run()
        assert len(made) == 2 and made[0].closed and made[1].closed
        assert "connection reset" in thread.services.metrics.recent.snapshot()[0]["message"]

    def test_a_fenced_member_stops_for_good_and_says_why(self, tmp_path: Path) -> None:
        """kafka-python only logs the fencing; the thread notices, closes its consumer and gives the reason."""
        thread, consumer, _ = make_thread(tmp_path, [{}] * 1000, group={"instance_id": "host-a"}, assignment={TP0})

        def fenced_heartbeat(c: FakeConsumer) -> dict[TopicPartition, Any]:
            fencing.filter(logging.LogRecord("kafka.coordinator.heartbeat", logging.ERROR, "", 0,
                                             "Heartbeat thread caught fenced group_instance_id %s error",
                                             ("host-a-0",), None))
            return {}

        consumer.script.insert(0, fenced_heartbeat)
        thread.run()
        assert thread.fatal is not None and "'host-a-0'" in thread.fatal
        assert consumer.closed and consumer.polls < 5  # stopped at once, not after the script ran out

    def test_what_is_written_and_not_yet_committed_is_committed_when_the_consumer_closes(self,
                                                                                         tmp_path: Path) -> None:
        """Commits go out at most every half second; the last ones wait for the broker when the consumer closes."""
        def too_soon_to_commit(consumer: FakeConsumer) -> None:
            thread.offsets.record({TP1: 9})  # as a batch written right after the last commit would

        thread, consumer, _ = make_thread(tmp_path, [{TP0: records([{"n": 1}])}, {}, too_soon_to_commit])
        thread.run()
        assert consumer.async_commits == [{TP0: 1}]
        assert consumer.sync_commits == [{TP1: 9}]
        assert consumer.closed and not thread.joined.is_set() and thread.assignment == frozenset()

    def test_the_status_page_sees_the_held_partitions_until_the_consumer_closes(self, tmp_path: Path) -> None:
        """`held` and `waiting` are asked of the current consumer's loop (pausing.py keeps them); a closed
        consumer holds nothing, and its held gauge is gone."""
        seen: list[Any] = []

        def unreadable(consumer: FakeConsumer) -> dict[TopicPartition, Any]:
            consumer._fetcher._next_partition_records = ParkedRecords(TP1, 5)
            raise RuntimeError("Libraries for lz4 compression codec not found")

        def look(consumer: FakeConsumer) -> None:
            seen.append(({tp: bad.offset for tp, bad in thread.held.items()}, thread.waiting))

        thread, _, _ = make_thread(tmp_path, [unreadable, look])
        assert (thread.held, thread.waiting) == ({}, None)  # no consumer yet
        thread.run()
        assert seen == [({TP1: 5}, None)]
        assert thread.held == {}
        assert thread.services.metrics.registry.get_sample_value(
            "karafkad_held_partitions", {"group": "g", "topic": "t", "partition": "1"}) is None

    def test_a_reload_reaches_the_next_batch_and_the_pipeline_is_kept_until_then(self, tmp_path: Path) -> None:
        """The pipeline is built once per route table: the same one while the routes stay, a new one for the
        routes a reload swapped in."""
        thread, _, _ = make_thread(tmp_path, [])
        first = thread.pipeline()
        assert thread.pipeline() is first
        (tmp_path / "reloaded").mkdir()
        other = make_table(tmp_path / "reloaded", {"g": {"routes": [{"topic": "t", "handler": "h.handle"}]}})
        thread.get_routes = lambda: other.groups["g"]
        assert thread.pipeline() is not first and thread.pipeline().routes is other.groups["g"]
