"""The consumer loop: poll, decide, deliver, commit, for one member of a consumer group.

`consumer` runs a `ConsumerThread` (one Kafka consumer, replaced when it
breaks) and its poll loop; `delivery` writes its decided batches (dead letters
through `dead_letter_sender`, jobs through the store's enqueuer) while the
next one is decided; `pausing` and `backpressure` pause instead of losing;
`membership` collects rebalances; `marks_cache` is the thread's copy of its
partitions' marks and replay windows; `positions` and `offsets` say what may
be committed and commit it; `accounting` counts what was written;
`services` is what every thread shares. May import the store and everything
below it; never the supervision above it.
"""
