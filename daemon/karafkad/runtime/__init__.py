"""Layer 4a, the runtime: the running daemon, from poll to commit.

`supervisor` owns the lifecycle in the main thread (start, readiness,
signals from `signals`, reload, drain, `systemd` notifications) and runs a
`groups.GroupRunner` per consumer group; each `consumer.ConsumerThread`
polls, has the pipeline decide, and hands the batch to its `delivery` line
(dead letters through `deadletters`, jobs through `enqueuer`), pausing
(`pausing`, `backpressure`) instead of losing; `offsets` commits only what
was written, `marks` and `membership` track what the thread has seen and
holds, `accounting` counts what was written. `pidfile` locks the daemon's
pidfile; `status` is the shape of its status snapshot; `collector` sets the garbage
collector for a stream of short-lived objects once the daemon is ready. May import the
pipeline and every layer below it.
"""
