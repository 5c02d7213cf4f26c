"""Layer 6b, operations: what operators ask of karafkad after day one, run from the command line.

`replay` consumes a group's messages again on purpose (new job ids, each
still enqueued once); `events` records what such commands did where the
running daemon's status page shows it. Beside the web floor: may import the
runtime (the enqueuer, replay windows, dead-letter headers) and everything
below it.
"""
