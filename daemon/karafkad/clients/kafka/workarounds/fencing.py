"""Noticing that the broker fenced a static member: another process joined with its instance id.

With static membership (KIP-345) the broker hands a member's partitions to
whoever joins with the same `group.instance.id`, and fences the one before.
kafka-python 3.0 only logs a fenced heartbeat and keeps the old member
fetching; an error reaches poll() only once a commit fails. The log line
names the instance id, so a filter on kafka-python's heartbeat logger tells
the fenced member at once, whatever the log configuration.
"""

from __future__ import annotations

import logging
import threading


class FencingWatch(logging.Filter):
    """The instance ids kafka-python reported fenced (its log record's argument)."""

    def __init__(self) -> None:
        super().__init__()
        self._fenced: set[str] = set()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        # "Heartbeat thread caught fenced group_instance_id %s error" (kafka/coordinator/base.py)
        if "fenced group_instance_id" in str(record.msg) and isinstance(record.args, tuple) and record.args:
            with self._lock:
                self._fenced.add(str(record.args[0]))
        return True

    def fenced(self, instance_id: str | None) -> bool:
        if instance_id is None:
            return False
        with self._lock:
            return instance_id in self._fenced


fencing = FencingWatch()
logging.getLogger("kafka.coordinator.heartbeat").addFilter(fencing)
