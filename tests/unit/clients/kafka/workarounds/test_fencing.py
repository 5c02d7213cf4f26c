"""clients/kafka/workarounds/fencing.py: kafka-python's fenced-heartbeat log line tells the member it was fenced."""

from __future__ import annotations

import logging

from karafkad.clients.kafka.workarounds.fencing import FencingWatch


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("kafka.coordinator.heartbeat", logging.ERROR, "", 0, msg, args, None)


class TestFencingWatch:
    def test_the_fenced_instance_id_is_noted(self) -> None:
        """The instance id is the log record's argument; the record itself still goes through."""
        watch = FencingWatch()
        assert watch.filter(record("Heartbeat thread caught fenced group_instance_id %s error", "web1-shop-0"))
        assert watch.fenced("web1-shop-0") and not watch.fenced("web1-shop-1") and not watch.fenced(None)

    def test_the_line_that_names_the_group_is_not_taken_for_an_instance_id(self) -> None:
        """"Heartbeat failed for group %s due to fenced id error" carries the group, not the member."""
        watch = FencingWatch()
        watch.filter(record("Heartbeat failed for group %s due to fenced id error: %s", "shop",
                            "FencedInstanceIdError"))
        assert not watch.fenced("shop")


