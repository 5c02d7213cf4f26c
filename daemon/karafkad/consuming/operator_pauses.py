"""The operators' pauses as the consumer threads see them: read from Redis off their path, looked at without I/O.

The maintenance thread reads the pauses (store/pauses.py) ten times a second
and hands them to `OperatorPauses.update`; each consumer thread compares the
version after every poll (an attribute read, no Redis round trip on the hot
path) and, when it changed or a rebalance moved its partitions, asks which of
its partitions are to be paused (pausing.py's `Pauser.obey` pauses them with
kafka-python's pause: the member keeps polling, so it keeps its membership
and its partitions). A Redis that cannot be read leaves the last pauses read
in force: an outage never resumes what an operator paused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from karafkad.clients.kafka.types import TopicPartition
from karafkad.routes.table import GroupRoutes
from karafkad.store.pauses import PauseTarget


class OperatorPauses:
    """The pauses last read, and a version that changes whenever they do."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: tuple[int, frozenset[PauseTarget]] = (0, frozenset())
        """(version, targets), replaced whole: a reader takes both at once without the lock."""

    @property
    def version(self) -> int:
        return self._state[0]

    @property
    def targets(self) -> frozenset[PauseTarget]:
        return self._state[1]

    def update(self, targets: Iterable[PauseTarget]) -> bool:
        """Take the pauses just read; whether they changed."""
        new = frozenset(targets)
        with self._lock:
            version, old = self._state
            if new == old:
                return False
            self._state = (version + 1, new)
            return True

    def partitions(self, routes: GroupRoutes, assignment: Iterable[TopicPartition]) -> set[TopicPartition]:
        """The partitions of `assignment` an operator paused: those of a paused route's topics (in its group), and
        those paused one by one."""
        targets = [t for t in self.targets if t.group == routes.id]
        if not targets:
            return set()
        paused_routes = {t.route for t in targets if t.route is not None}
        topics = {topic for route in routes.routes if route.name in paused_routes for topic in route.spec.topics}
        one_by_one = {(t.topic, t.partition) for t in targets if t.topic is not None}
        return {tp for tp in assignment if tp.topic in topics or (tp.topic, tp.partition) in one_by_one}
