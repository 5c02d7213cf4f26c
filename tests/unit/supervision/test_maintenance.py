"""supervision/maintenance.py: the periodic Redis chores on their own thread, each at its interval; a failing
chore is retried (and logged once, and again when it works), never the end of the thread; final chores run at
stop."""

from __future__ import annotations

import time

import structlog

from karafkad.supervision.maintenance import Maintenance


def _maintenance() -> Maintenance:
    return Maintenance(list, interval=0.01)


class TestMaintenance:
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
