"""consuming/backpressure.py: the queue gate closes above the high watermark and opens below the low one, reading
queue depths at most once per interval and counting what was enqueued meanwhile."""

from __future__ import annotations

from typing import Any

from loop_fakes import FakeEnqueuer

from karafkad.consuming.backpressure import QueueGate
from karafkad.errors import EnqueueError


class Depths(FakeEnqueuer):
    """Counts the readings of queue depths; fails them while `down`."""

    def __init__(self) -> None:
        super().__init__()
        self.readings = 0
        self.down = False

    def queue_lengths(self, queues: Any) -> dict[str, int]:
        self.readings += 1
        if self.down:
            raise EnqueueError("Redis: ConnectionError: refused")
        return super().queue_lengths(queues)


def _gate(interval: float) -> tuple[QueueGate, Depths]:
    depths = Depths()
    return QueueGate(depths.queue_lengths, ("q", "other"), high=100, low=10, interval=interval), depths


class TestQueueGate:
    def test_closed_above_the_high_watermark_until_below_the_low_one(self) -> None:
        """Between the watermarks the gate keeps its state: no flapping around one threshold."""
        gate, depths = _gate(interval=0.0)
        states = []
        for depth in (50, 150, 50, 5, 50):
            depths.lengths["other"] = depth
            states.append(gate.closed())
        assert states == [False, True, True, False, False]

    def test_depths_are_read_once_per_interval_and_jobs_written_meanwhile_are_added(self) -> None:
        """Between two readings the jobs this daemon wrote count too, so a fast consumer cannot overshoot the
        watermark by an interval's worth of jobs."""
        gate, depths = _gate(interval=3600.0)
        depths.lengths["q"] = 90
        assert not gate.closed()
        gate.note_enqueued("q", 20)
        assert gate.closed()
        assert depths.readings == 1

    def test_a_failed_reading_keeps_the_last_estimate_and_is_tried_again(self) -> None:
        """Redis failing is the write path's to report: the gate keeps what it knew and asks again next time."""
        gate, depths = _gate(interval=0.0)
        depths.lengths["q"] = 150
        assert gate.closed()
        depths.lengths["q"] = 0
        depths.down = True
        assert gate.closed()  # still the last reading
        depths.down = False
        assert not gate.closed()
        assert depths.readings == 3
