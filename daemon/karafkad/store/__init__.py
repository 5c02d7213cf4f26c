"""What karafkad keeps: its Redis data model, and the format of its dead letters.

`enqueuer` writes a batch's jobs and moves its partitions' dedupe marks in one
atomic Lua call; `replays` is a replay window (which offsets run again, under
which ids); `events` is the operator commands' notes for the status pages;
`dead_letter_headers` writes and parses the headers of a dead letter. The
consumer loop (`karafkad.consuming`) and the operator commands
(`karafkad.ops`) both build on it. May import the pipeline and everything
below it.
"""
