"""Layer 6b, operations: what operators ask of karafkad after day one, run from the command line.

`replay` consumes a group's messages again on purpose (new job ids, each
still enqueued once); `deadletters` lists dead letters and re-drives them
through the route that rejected them; `topics` plans and applies the topics
a routes file declares. Replays and re-drives are recorded with the
runtime's `events`, where the running daemon's status page shows them.
Beside the web floor: may import the runtime (the enqueuer, replay windows,
dead-letter headers) and everything below it.
"""
