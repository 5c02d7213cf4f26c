"""The pipeline: what one message becomes, as a value.

`records` is the one record type (a Protocol that kafka-python's records
satisfy, and `PlainRecord` for records karafkad makes itself); `steps` runs
a group's routes over a partition's records (header keys, tombstone policy,
size, decode, schema, filter, hooks, job) and returns `outcomes` (jobs to
write, dead letters to send, skips to count), recording a `trace` of its
steps when asked (`explaining` sorts it route by route, for `karafkad explain`
and the console's explorer); `schedule` says when a job is due; `watching`
reads what became of a sampled message off its batch, for its spans. Nothing here talks to
Kafka or Redis. May import the routes and everything below them (the
clients' record Protocol, config, the bottom modules).
"""
