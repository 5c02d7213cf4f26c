"""When consuming should wait for RQ: a queue above its high watermark pauses the consumers.

Queue depths are read from Redis at most once per interval; in between, the
jobs this daemon wrote are added to the last reading, so a fast consumer
cannot overshoot the watermark by a second's worth of jobs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from karafkad.errors import EnqueueError


class QueueGate:
    """Pauses consuming while an RQ queue is above its high watermark, until it is below the low one."""

    def __init__(self, lengths: Callable[[Sequence[str]], Mapping[str, int]], queues: tuple[str, ...], high: int,
                 low: int, interval: float = 1.0) -> None:
        """`lengths` reads the queues' lengths (store/queues.py's QueueLengths.read); EnqueueError when it cannot."""
        self.lengths = lengths
        self.queues = queues
        self.high = high
        self.low = low
        self.interval = interval
        self._checked = -float("inf")
        self._closed = False
        self._estimate: dict[str, int] = {}
        self._lock = threading.Lock()

    def note_enqueued(self, queue: str, count: int) -> None:
        with self._lock:
            self._estimate[queue] = self._estimate.get(queue, 0) + count

    def closed(self) -> bool:
        """True while consumers should stay paused."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.interval:
                try:
                    self._estimate = dict(self.lengths(self.queues))
                    self._checked = now
                except EnqueueError:
                    pass  # the enqueue path reports Redis outages itself
            longest = max(self._estimate.values(), default=0)
            self._closed = longest > self.low if self._closed else longest > self.high
            return self._closed
