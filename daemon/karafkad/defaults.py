"""Every default and limit in one place, each a named constant with its reason."""

from __future__ import annotations

# --- exit codes (documented in the README and in `karafkad --help`) ---------

EXIT_OK = 0
"""Clean exit, including a drain that finished within shutdown_timeout."""

EXIT_CONFIG = 1
"""The routes file (or a command-line argument) is invalid."""

EXIT_FORCED = 2
"""Forced shutdown: a second signal, or the drain outlived shutdown_timeout."""

EXIT_RUNTIME = 3
"""The daemon could not keep running (for example the pidfile is held)."""

# --- routes file -----------------------------------------------------------

ROUTES_FILE_MAX_BYTES = 1024 * 1024
"""A routes file above 1 MiB is refused before it is parsed (no YAML parser
should be asked to chew on a 20 MB file to find out it is wrong)."""

YAML_MAX_NODES = 50_000
"""Values produced while expanding YAML anchors and aliases; stops alias bombs."""

YAML_MAX_DEPTH = 64
"""Nesting depth of the routes file."""

SCHEMA_FILE_MAX_BYTES = 1024 * 1024
"""A message schema file above 1 MiB is refused."""

# --- messages --------------------------------------------------------------

MAX_MESSAGE_BYTES = 5 * 1024 * 1024
"""Values above 5 MiB are dead-lettered as oversize rather than decoded."""

FILTER_MAX_LENGTH = 2000
"""Characters in one filter expression."""

FILTER_MAX_NODES = 500
"""Syntax-tree nodes in one filter expression."""

FILTER_MAX_DEPTH = 40
"""Nesting depth of one filter expression."""

FILTER_MAX_STRING = 1024 * 1024
"""Longest string a filter may build at run time (by `+`)."""

BATCH_MAX_MESSAGES = 500
"""Messages a sized batch route's job carries at most (`batch: {max_messages}`), unless the route says: as many
as one full poll returns (MAX_POLL_RECORDS), so a busy partition's batch is one poll's worth, and a job's
arguments stay a few hundred kilobytes for messages of a few hundred bytes."""

BATCH_MAX_WAIT = 1.0
"""Seconds a sized batch route gathers a partition's records for (`batch: {max_wait}`) from its first one,
unless the route says: a quiet partition's messages reach the handler, and are committed, at most a second
late, while a busy one fills its batches long before."""

# --- Kafka -----------------------------------------------------------------

BOOTSTRAP_SERVERS = "127.0.0.1:9092"
"""Where a routes file without a kafka section looks for the broker."""

CLIENT_ID = "karafkad"
"""Kafka client id; shows up in broker logs and consumer-group listings."""

POLL_TIMEOUT_MS = 500
"""How long one poll waits for records; bounds how fast a stop is noticed. Less while a sized batch route's
batch waits (consuming/gathering.py): a poll ends by the time the nearest batch's max_wait does, so a quiet
partition's batch is written on time even when no poll brings records."""

MAX_POLL_RECORDS = 500
"""Records per poll: one poll is one enqueue round trip and one commit."""

FETCH_MAX_WAIT_MS = 100
"""Longest a fetch waits at the broker for new data (kafka-python's default is 500; see consumer.py)."""

REQUEST_TIMEOUT_MS = 10_000
"""How long a consumer waits for a broker's answer (kafka-python's default is 30 s; routes.yaml's
kafka.request_timeout_ms overrides it). A broker that stops answering without closing its connections
(a machine gone, a frozen process) is noticed only when a request times out: until then its partitions
stand still, though the cluster moved their leaders within seconds. A join waits longer, as kafka-python
gives it max_poll_interval_ms; every other request of a consumer is answered in milliseconds."""

HEARTBEAT_INTERVAL_MAX_MS = 1_000
"""The default heartbeat is a third of the session timeout, but at most this: a member learns of a
rebalance (another member joining or leaving, a reload, a restart) only at its next heartbeat, so
kafka-python's 3 s would add up to 3 s to every rebalance; one small request a second costs nothing."""

SESSION_TIMEOUT_MS = 10_000
"""Group session timeout; short enough that a killed member is replaced quickly."""

MAX_POLL_INTERVAL_MS = 300_000
"""kafka-python's own default: the longest gap between polls before eviction."""

# --- Redis and RQ ----------------------------------------------------------

QUEUE = "default"
"""RQ queue of a route that names none (RQ's own default queue name)."""

JOB_TIMEOUT = 180
"""Seconds an RQ job may run (RQ's own default)."""

RESULT_TTL = 500
"""Seconds RQ keeps a successful job's result (RQ's own default)."""

FAILURE_TTL = 365 * 24 * 3600
"""Seconds RQ keeps a failed job (RQ's own default: one year)."""

DEDUPE_WINDOW = 7 * 24 * 3600
"""Seconds a partition's enqueued-offset mark lives in Redis after its last
write. A redelivered message inside this window never becomes a second job.
It must exceed result_ttl (default 500 s) so that a job already run and
deleted is still not enqueued again."""

SERIALIZER = "json"
"""Job payload encoding. JSON by default: a pickled job in Redis is code
execution for anyone who can write to that Redis."""

WORKER_LEAVE_SECONDS = 1.0
"""Longest wait for a `karafkad worker`'s command-channel thread to end as the worker leaves (RQ's own bound).
It ends as soon as Redis answers the UNSUBSCRIBE; a Redis gone meanwhile costs this, never more."""

# --- held keys (ordered routes) --------------------------------------------

HELD_SCAN_INTERVAL = 10.0
"""Seconds between two scans of the daemon for held keys (the metric karafkad_held_keys and the status page):
a held key waits for an operator, so a few seconds late is soon enough, and a scan reads every ordered
route's failed jobs (a few round trips), which is not worth doing every second."""

FAILED_SCAN_LIMIT = 1000
"""Failed jobs read per queue in one scan for held keys, the newest first (by RQ's score: when they expire):
RQ keeps a failed job for a year (failure_ttl), and a skipped one stays failed, so the registry can grow far
beyond the keys held now; a scan must stay a few milliseconds however large it grew (1,000: ~10 ms, measured,
store/held.py). A scan that met more says so."""

WAITING_COUNT_LIMIT = 100
"""Jobs counted behind one held key (through each one's dependents set): beyond it the count shows as "100+";
how many exactly matters less than that the key is held."""

WAITING_COUNT_BUDGET = 10_000
"""Dependents sets read, in all, to count the jobs behind the held keys of one queue in one scan (inside
held_scan.lua, one Redis call: ~1 µs each, so a few milliseconds of Redis's time at most, even when every key of
a busy route is held with a long line behind it); a count cut short by it shows with a "+"."""

# --- lifecycle -------------------------------------------------------------

SHUTDOWN_TIMEOUT = 30.0
"""Seconds a drain may take before the exit becomes forced (exit code 2)."""

SIGNAL_REPEAT_IGNORE = 1.0
"""A second SIGTERM within this many seconds of the first is ignored, as RQ
does: terminals and process managers often deliver a signal twice."""

STALL_SECONDS = 120.0
"""A consumer thread whose loop has not come round for this long is stuck (a guard: kafka-python's
poll waits for its I/O thread without a timeout, so a task that never finishes there would hang
it). The daemon then logs every thread's stack and exits 3, so that its service manager restarts
it; nothing is lost (offsets are committed only after the jobs are in Redis). Every wait in the
loop is bounded far below this: a poll by POLL_TIMEOUT_MS, a Redis call by its socket timeout, a
commit or close by its timeout, a retry by BACKOFF_MAX."""

BACKOFF_INITIAL = 0.2
"""First wait before retrying Redis after a failed enqueue, in seconds."""

BACKOFF_MAX = 5.0
"""Longest wait between enqueue retries, in seconds."""
