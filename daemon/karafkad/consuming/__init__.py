"""The consumer loop: poll, decide, deliver, commit, for one member of a consumer group.

`consumer` runs a `ConsumerThread` (a group member, which replaces its Kafka
consumer when it breaks); `poll_loop` is one consumer's loop, the only
caller of its poll; `membership` collects the rebalances it acts on;
`gathering` keeps a sized batch route's records across polls until its
batch is full; `deciding` turns records into batches, reading the marks and
replay windows the thread keeps in `marks_cache`; `delivery` writes them
(dead letters through `dead_letter_sender`, jobs through the store's
enqueuer) while the next poll is decided, handing the waits of a failed
write back to the loop; `accounting` counts what was written; `positions`
and `offsets` say what may be committed and commit it; `pausing` owns what
is paused and why (`operator_pauses`: the operators' pauses, handed over
from the maintenance thread), `backpressure` says when RQ's queues are too full;
`services` is what every thread shares. docs/architecture.md, "Offsets, in
words", defines the offsets they speak of. May import the store and
everything below it; never the supervision above it.
"""
