"""What karafkad keeps: its Redis data model, and the format of its dead letters.

`keys` names every Redis key karafkad writes or reads; `enqueuer` writes a
batch's jobs and moves its partitions' dedupe marks in one atomic Lua call
(`enqueue.lua`); `marks` reads a partition's marks and replay window back,
`queues` the RQ queues' lengths; `ready` moves the jobs RQ left in a queue's
ready registry onto the queue (`release_ready.lua`); `held` finds the keys of ordered routes held
behind a failed job and releases them (`held_scan.lua`, `skip_held.lua`);
`replays` is a replay
window (which offsets run again, under which ids); `events` is the operator
commands' notes for the status pages; `failures` turns every Redis failure
of these into one EnqueueError in words; the console's data: `instances`
(each daemon's published status), `history` (the charts' counts, bounded)
and `pauses` (the operators' pauses every daemon obeys); `dead_letter_headers` writes and
parses the headers of a dead letter. The consumer loop (`karafkad.consuming`),
the supervision's maintenance and the operator commands (`karafkad.ops`)
build on it. May import the pipeline and everything below it.
"""
