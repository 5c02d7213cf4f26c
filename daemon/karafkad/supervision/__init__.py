"""The daemon as a process: its lifecycle in the main thread, above the consumer loop.

`supervisor` starts the groups (`groups`: a group's consumer threads),
reloads and drains; `main_loop` is the main thread's loop around it: it
answers signals (`signals`), reports readiness to `systemd`, watches for
stuck threads and dumps their stacks; `redises` holds one client, enqueuer, mark reader
and queue gate per distinct Redis; `maintenance` runs the periodic Redis
chores on a thread of their own; `held_watch` looks for held keys (the
metric and the status page); `pidfile` locks the daemon's pidfile;
`status` is the shape of its status snapshot; `collector` tunes the garbage
collector once the daemon is ready. May import the consumer loop and
everything below it.
"""
