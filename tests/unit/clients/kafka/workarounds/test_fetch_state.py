"""clients/kafka/workarounds/fetch_state.py: positions, last stable offsets and unreadable batches, read from
kafka-python's state.

The shapes stand in for kafka-python 3.0's own (SubscriptionState, the fetcher and its CompletedFetch);
tests/integration/test_kafka_in_production.py reads them from the real client against a broker.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kafka import TopicPartition

from karafkad.clients.kafka.workarounds.fetch_state import StableOffsets, position, set_aside_bad_batch

TP = TopicPartition("t", 0)


def consumer(**parts: Any) -> Any:
    return SimpleNamespace(**parts)


class TestPosition:
    def test_read_without_a_network_call(self) -> None:
        """assignment[tp].position.offset, as kafka-python keeps it after each poll."""
        state = SimpleNamespace(position=SimpleNamespace(offset=42))
        assert position(consumer(_subscription=SimpleNamespace(assignment={TP: state})), TP) == 42

    def test_unknown_is_none(self) -> None:
        """Not assigned, no position yet, or a client without that state: None, never an error."""
        unset = SimpleNamespace(position=None)
        assert position(consumer(_subscription=SimpleNamespace(assignment={TP: unset})), TP) is None
        assert position(consumer(_subscription=SimpleNamespace(assignment={})), TP) is None
        assert position(consumer(), TP) is None


class TestStableOffsets:
    def test_each_fetch_response_leaves_its_last_stable_offset(self) -> None:
        """The parser is wrapped: it still parses, and the value the broker sent is kept per partition."""
        parsed: list[Any] = []
        fetcher = SimpleNamespace(_parse_fetched_data=lambda completed: parsed.append(completed) or "records")
        stable = StableOffsets(consumer(_fetcher=fetcher))
        data = SimpleNamespace(error_code=0, last_stable_offset=17)
        assert fetcher._parse_fetched_data(SimpleNamespace(topic_partition=TP, partition_data=data)) == "records"
        assert stable.get(TP) == 17 and len(parsed) == 1

    def test_errors_and_missing_values_are_not_kept(self) -> None:
        """A fetch error, or -1 (an old broker), leaves the last good value (or none)."""
        fetcher = SimpleNamespace(_parse_fetched_data=lambda completed: None)
        stable = StableOffsets(consumer(_fetcher=fetcher))
        for error_code, value in ((3, 99), (0, -1)):
            data = SimpleNamespace(error_code=error_code, last_stable_offset=value)
            fetcher._parse_fetched_data(SimpleNamespace(topic_partition=TP, partition_data=data))
        assert stable.get(TP) is None

    def test_a_client_without_a_fetcher_gives_none(self) -> None:
        """A test double: lag falls back to the high watermark."""
        assert StableOffsets(consumer()).get(TP) is None


class TestBadBatch:
    def test_the_parked_records_name_the_partition_and_are_drained(self) -> None:
        """kafka-python's parked PartitionRecords: its partition and position, drained so poll does not spin."""
        drained: list[bool] = []
        parked = SimpleNamespace(topic_partition=TP, next_fetch_offset=9, drain=lambda: drained.append(True))
        bad = set_aside_bad_batch(consumer(_fetcher=SimpleNamespace(_next_partition_records=parked)),
                                  RuntimeError("Libraries for zstd compression codec not found"))
        assert bad is not None and (bad.partition, bad.offset) == (TP, 9)
        assert bad.error == "RuntimeError: Libraries for zstd compression codec not found" and drained

    def test_nothing_parked_means_the_error_was_not_a_batch(self) -> None:
        """None parked (or a drained one): the caller treats the error as a broken client."""
        assert set_aside_bad_batch(consumer(_fetcher=SimpleNamespace(_next_partition_records=None)),
                                   RuntimeError("x")) is None
        assert set_aside_bad_batch(consumer(), RuntimeError("x")) is None
