"""patches.py: the narrow fixes to kafka-python, applied only where its code is as expected."""

from __future__ import annotations

from typing import Any

from karafkad.clients.kafka.workarounds import patches


class TestHeaderKeys:
    def test_the_patch_applies_to_the_pinned_kafka_python(self) -> None:
        """kafka-python 3.0.x has the exact lines the fix rewrites (else the consumer would log a warning)."""
        assert patches.apply()
        assert patches.apply()  # idempotent


class TestPrefetch:
    def test_asks_the_fetcher_for_the_drained_partitions(self) -> None:
        """prefetch() calls kafka-python's fetcher.send_fetches()."""
        calls: list[str] = []

        class Fetcher:
            def send_fetches(self) -> None:
                calls.append("sent")

        class Consumer:
            _fetcher = Fetcher()

        patches.prefetch(Consumer())
        assert calls == ["sent"]

    def test_a_client_without_that_method_is_left_alone(self) -> None:
        """No internal fetcher (another client, a test double): nothing happens, nothing raises."""
        consumer: Any = object()
        patches.prefetch(consumer)
