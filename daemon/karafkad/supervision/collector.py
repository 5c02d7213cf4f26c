"""CPython's cyclic garbage collector, set for a daemon that makes and drops thousands of small objects a second.

By default the collector looks at the young objects every 700 container
allocations. Each message becomes about a dozen containers (the decoded
dict and its lists, the job's arguments, the record kafka-python made), all
alive until their batch is written: so they survive the young passes, are
promoted, and the full passes that follow walk every object of the process
again (modules, the route table, kafka-python's state), batch after batch.
None of what karafkad makes per message is part of a cycle, so reference
counting frees it the moment its batch is done; the collector only has to
find the rare cycle, and can look far less often.

Measured (one process, one consumer thread, a 100,000-message backlog, four
interleaved runs each; docs/benchmarks.md): the daemon's CPU per message went
from 21.4 to 16.4 µs (median).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Container allocations (minus deallocations) between two passes over the young objects: more than a
few batches' worth (a 500-message batch makes ~6,000), so most of a batch is freed before the
collector ever sees it. Python's default is 700."""

OLDER_THRESHOLDS = (20, 20)
"""Young passes per middle-generation pass, middle passes per full pass (Python's default: 10, 10)."""


def settle() -> None:
    """Move everything alive now (modules, routes, clients) out of the collector's way, and collect less often.

    Called once, when the daemon is first ready; what start-up made is kept for the daemon's life, so
    walking it again in every full pass would only cost CPU. A reload's routes are made later and are
    collected normally once replaced; only a cycle among the first routes would outlive a reload, once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
