"""Once started, the daemon keeps what start-up made out of the collector's way and collects less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from karafkad.supervision import collector


@pytest.fixture
def restored() -> Iterator[None]:
    """The test process's own collector settings, put back afterwards."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class TestSettle:
    def test_start_up_objects_are_frozen_and_thresholds_raised(self, restored: None) -> None:
        """Everything alive when the daemon settles is in the permanent generation; the young generation
        is collected only after YOUNG_THRESHOLD allocations."""
        kept = [[n] for n in range(100)]
        collector.settle()
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, *collector.OLDER_THRESHOLDS)

    def test_cycles_made_afterwards_are_still_collected(self, restored: None) -> None:
        """The collector still runs: a reference cycle made after settling is freed by a collection."""
        collector.settle()

        class Node:
            other: Node

        first, second = Node(), Node()
        first.other, second.other = second, first
        del first, second
        assert gc.collect() >= 2
