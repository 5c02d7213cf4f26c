"""Operations: what operators ask of karafkad after day one, run from the command line and the console.

`replay` consumes a group's messages again on purpose (new job ids, each
still enqueued once); `dead_letters` lists dead letters and re-drives them
through the routes that rejected them, route by route (`dead_letter_states`:
what a re-drive would do for each route); `topics` plans and applies the topics
a routes file declares; `held` lists the keys an ordered route holds behind a
failed job and releases them (retry or skip); `pauses` pauses and resumes a
route or a partition on every daemon; `explorer` reads a topic's messages,
each traced through the routes with its job and dead letter;
`dead_letter_reading` reads dead letters for a page and by their places.
Every operation is noted in the store's
`events`, where the running daemons' status pages show them. May import the
store and everything below it, never the consumer loop or the supervisor (an
import-linter contract says so): an operator command works on what karafkad
keeps, not on a running daemon.
"""
