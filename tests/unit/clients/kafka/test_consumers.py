"""clients/kafka/consumers.py: the settings each consumer thread's KafkaConsumer gets."""

from __future__ import annotations

from typing import Any

import pytest

from karafkad import defaults
from karafkad.clients.kafka import consumers
from karafkad.config.settings import GroupSpec, KafkaSettings


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of every KafkaConsumer made (none connects)."""
    calls: list[dict[str, Any]] = []

    def record(**options: Any) -> object:
        calls.append(options)
        return object()

    monkeypatch.setattr(consumers, "KafkaConsumer", record)
    return calls


class TestMakeConsumer:
    def test_a_broker_that_stops_answering_is_given_up_after_ten_seconds(self, made: list[dict[str, Any]]) -> None:
        """Requests time out after defaults.REQUEST_TIMEOUT_MS, not kafka-python's 30 s (a frozen leader held its
        partitions for the whole freeze at 30 s)."""
        consumers.make_consumer(KafkaSettings(), GroupSpec("g", ()), 0)
        assert made[0]["request_timeout_ms"] == defaults.REQUEST_TIMEOUT_MS == 10_000
        assert made[0]["fetch_max_wait_ms"] < made[0]["request_timeout_ms"]  # kafka-python's own rule

    def test_the_routes_files_request_timeout_wins(self, made: list[dict[str, Any]]) -> None:
        """kafka.request_timeout_ms in routes.yaml is used as it is."""
        consumers.make_consumer(KafkaSettings(security={"request_timeout_ms": 40_000}), GroupSpec("g", ()), 1)
        assert made[0]["request_timeout_ms"] == 40_000
        assert made[0]["client_id"] == "karafkad-g-1"


class TestHeartbeatInterval:
    """A member learns of a rebalance at its next heartbeat: at most a second by default."""

    def test_a_third_of_the_session_timeout_at_most_a_second(self) -> None:
        """Without heartbeat_interval_ms, a third of session_timeout_ms, capped at 1 s."""
        for session, expected in ((10_000, 1000), (45_000, 1000), (1_500, 500)):
            assert consumers.heartbeat_interval_ms(GroupSpec("g", (), session_timeout_ms=session)) == expected

    def test_an_explicit_interval_is_kept(self) -> None:
        """heartbeat_interval_ms in routes.yaml is used as it is."""
        group = GroupSpec("g", (), session_timeout_ms=30_000, heartbeat_interval_ms=5_000)
        assert consumers.heartbeat_interval_ms(group) == 5000
