"""supervision/maintenance.py: the daemon's Redis chores on their own thread, with fake links (no Redis)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog
from waiting import wait_for

from karafkad.errors import EnqueueError
from karafkad.supervision.maintenance import READY_INTERVAL, Maintenance


@dataclass
class FakeReady:
    """store/ready.py's ReadyJobs: notes the queues it was asked to release; answers `moved` or raises `fail`."""

    moved: int = 0
    fail: EnqueueError | None = None
    asked: list[list[str]] = field(default_factory=list)

    def release(self, queues: Iterable[str]) -> int:
        self.asked.append(list(queues))
        if self.fail is not None:
            raise self.fail
        return self.moved


@dataclass
class FakeLink:
    """The two things of a RedisLink that maintenance reads."""

    ordered_queues: tuple[str, ...]
    ready: FakeReady


class TestMaintenance:
    def test_a_turn_moves_the_ready_jobs_of_every_redis_with_ordered_queues(self) -> None:
        """Each link with queues of ordered routes is asked for those queues; one without is not asked at all."""
        ordered, plain = FakeLink(("a", "b"), FakeReady(moved=3)), FakeLink((), FakeReady(moved=9))
        chores = Maintenance(lambda: [ordered, plain])
        chores.turn()
        chores.turn()
        assert ordered.ready.asked == [["a", "b"], ["a", "b"]] and plain.ready.asked == []
        assert chores.moved == 6

    def test_a_redis_that_fails_is_skipped_and_the_others_still_served(self) -> None:
        """An EnqueueError is logged at debug (the consumer threads report outages) and the turn goes on."""
        down = FakeLink(("a",), FakeReady(fail=EnqueueError("Redis: ConnectionError: refused")))
        up = FakeLink(("b",), FakeReady(moved=1))
        chores = Maintenance(lambda: [down, up])
        with structlog.testing.capture_logs() as logs:
            chores.turn()
        assert chores.moved == 1 and up.ready.asked == [["b"]]
        assert [(e["event"], e["log_level"], e["error"]) for e in logs] == [
            ("cannot move ready jobs now", "debug", "Redis: ConnectionError: refused")]

    def test_the_links_are_read_again_at_every_turn(self) -> None:
        """A reload may add a Redis: the next turn serves it."""
        links = [FakeLink(("a",), FakeReady(moved=1))]
        chores = Maintenance(lambda: links)
        chores.turn()
        links.append(FakeLink(("b",), FakeReady(moved=1)))
        chores.turn()
        assert chores.moved == 3

    def test_the_thread_turns_every_interval_until_stopped(self) -> None:
        """A daemon thread named maintenance; stop() ends it within a turn (READY_INTERVAL by default)."""
        link = FakeLink(("a",), FakeReady(moved=1))
        chores = Maintenance(lambda: [link], interval=0.01)
        assert (chores.name, chores.daemon, Maintenance(list).interval) == ("maintenance", True, READY_INTERVAL)
        chores.start()
        wait_for(lambda: chores.moved >= 3, 5, "three turns", interval=0.01)
        chores.stop()
        chores.join(5)
        assert not chores.is_alive()
        turns = len(link.ready.asked)
        assert chores.stopped.wait(0.05) and len(link.ready.asked) == turns
