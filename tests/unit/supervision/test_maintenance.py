"""supervision/maintenance.py: the daemon's Redis chores on their own thread, each at its interval, with fake links
(no Redis); a failing chore is retried (and logged once, and again when it works), never the end of the thread;
final chores run at stop."""

from __future__ import annotations

import time
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


def _maintenance() -> Maintenance:
    return Maintenance(list, interval=0.01)


class TestMaintenance:
    def test_a_turn_moves_the_ready_jobs_of_every_redis_with_ordered_queues(self) -> None:
        """Each link with queues of ordered routes is asked for those queues; one without is not asked at all."""
        ordered, plain = FakeLink(("a", "b"), FakeReady(moved=3)), FakeLink((), FakeReady(moved=9))
        chores = Maintenance(lambda: [ordered, plain], interval=0.0)  # every turn
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
        chores = Maintenance(lambda: links, interval=0.0)
        chores.turn()
        links.append(FakeLink(("b",), FakeReady(moved=1)))
        chores.turn()
        assert chores.moved == 3

    def test_the_thread_turns_every_interval_until_stopped(self) -> None:
        """A daemon thread named maintenance; stop() ends it within a turn (READY_INTERVAL by default)."""
        link = FakeLink(("a",), FakeReady(moved=1))
        chores = Maintenance(lambda: [link], interval=0.01)
        assert (chores.name, chores.daemon, Maintenance(list).tick) == ("maintenance", True, READY_INTERVAL)
        chores.start()
        wait_for(lambda: chores.moved >= 3, 5, "three turns", interval=0.01)
        chores.stop()
        chores.join(5)
        assert not chores.is_alive()
        turns = len(link.ready.asked)
        assert chores.stopped.wait(0.05) and len(link.ready.asked) == turns

    def test_each_chore_runs_at_its_own_interval(self) -> None:
        """A turn runs every chore that is due; one not due waits for its interval."""
        maintenance, runs = _maintenance(), {"fast": 0, "slow": 0}
        maintenance.add("fast", 0.0, lambda: runs.__setitem__("fast", runs["fast"] + 1))
        maintenance.add("slow", 3600.0, lambda: runs.__setitem__("slow", runs["slow"] + 1))
        for _ in range(3):
            maintenance.turn()
        assert runs == {"fast": 3, "slow": 1}
        assert maintenance.tick == 0.0  # the thread wakes as often as its most frequent chore needs

    def test_a_failing_chore_is_logged_once_and_the_others_go_on(self) -> None:
        """A failing chore is logged once and the others go on."""
        maintenance, runs, failing = _maintenance(), [], [True]

        def flaky() -> None:
            if failing[0]:
                raise ConnectionError("Redis is down")

        maintenance.add("flaky", 0.0, flaky)
        maintenance.add("steady", 0.0, lambda: runs.append(1))
        with structlog.testing.capture_logs() as logs:
            for _ in range(3):
                maintenance.turn()
            failing[0] = False
            maintenance.turn()
        assert len(runs) == 4
        assert [(e["event"], e.get("chore")) for e in logs] == [
            ("a maintenance chore failed; trying again at each turn", "flaky"),
            ("a maintenance chore works again", "flaky")]

    def test_the_thread_runs_the_chores_until_stopped_then_the_final_ones_once(self) -> None:
        """stop() ends the turns, then runs each final chore once more in the caller's thread (the last
        publication, which says the daemon stopped)."""
        maintenance, runs = _maintenance(), {"every": 0, "final": 0}
        maintenance.add("every", 0.0, lambda: runs.__setitem__("every", runs["every"] + 1))
        maintenance.add("final", 3600.0, lambda: runs.__setitem__("final", runs["final"] + 1), final=True)
        maintenance.start()
        deadline = time.monotonic() + 5
        while runs["every"] < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        maintenance.stop()
        assert not maintenance.is_alive()
        assert runs["every"] >= 3 and runs["final"] == 2  # its first turn, and once at stop
