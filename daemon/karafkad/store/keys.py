"""Every Redis key karafkad writes or reads, named in one place (rq's own `rq/keys.py` is the model).

karafkad's own keys start with `karafkad:`. The others are RQ's, written exactly as RQ writes them, so a
stock `rq worker` runs the jobs (tests/integration/test_rq_contract.py). The Lua script (enqueue.lua)
builds no key of its own: it is given them, or their prefixes, as arguments.

A partition's dedupe state is kept per *stream*: "" for the group's own consumption, `rN` for replay N
(store/replays.py), `redrive:ROUTE` for the dead letters re-driven through ROUTE (ops/dead_letters.py).
"""

from __future__ import annotations

# --- karafkad's own ------------------------------------------------------------------------------

MARK_PREFIX = "karafkad:mark:"
"""A partition's dedupe mark (a string: the highest offset handled), kept for the dedupe window."""
DONE_PREFIX = "karafkad:done:"
"""A partition's done set (a hash: offset -> 1), for jobs made out of offset order (re-driven dead letters)."""
REPLAY_PREFIX = "karafkad:replay:"
"""A partition's replay window (a hash, see store/replays.py's ReplayWindow.encode)."""
REPLAY_GENERATION_PREFIX = "karafkad:replays:"
"""A group's replay counter (INCR numbers its replays)."""
CHAIN_PREFIX = "karafkad:chain:"
"""An ordered route's chains in one partition (a hash: chain -> the id of its last job, see store/enqueue.lua)."""
CHAIN_FIELD = "karafkad_chain"
"""The field of an ordered route's job hash that names its chain: the chain hash's key, a newline, the chain
(RQ ignores fields it does not know, and never deletes them; store/held.py finds a held key by it)."""
EVENTS_KEY = "karafkad:events"
"""The operator commands' notes for the status pages (a capped list, store/events.py)."""
INSTANCES_KEY = "karafkad:instances"
"""The daemons that published their status lately (a sorted set: instance name -> when it last published, see
store/instances.py); read by every daemon's console to show the whole deployment."""
INSTANCE_PREFIX = "karafkad:instance:"
"""A daemon's latest status snapshot (a JSON string), expiring unless the daemon publishes it again."""
PAUSES_KEY = "karafkad:paused"
"""The operators' pauses (a hash: target -> who paused it and when, store/pauses.py), obeyed by every daemon."""
HISTORY_PREFIX = "karafkad:history:"
"""A series' counts over one chunk of time (a hash: step in the chunk -> count, store/history.py)."""
HISTORY_SERIES_KEY = "karafkad:history-series"
"""The names of the series written lately (a sorted set: name -> when it was last written)."""

OLD_REDRIVE_STREAM = "redrive"
"""The dead letters done as earlier versions kept them: by the dead letter's place (see
enqueuer.PartitionWrite.each). Only read now: a dead letter found there counts as re-driven before."""


def _partition_key(prefix: str, group: str, topic: str, partition: int, stream: str = "") -> str:
    return f"{prefix}{group}:{topic}:{partition}" + (f":{stream}" if stream else "")


def mark_key(group: str, topic: str, partition: int, stream: str = "") -> str:
    """The partition's mark: the highest offset handled in `stream` (empty: the group's own consumption)."""
    return _partition_key(MARK_PREFIX, group, topic, partition, stream)


def done_key(group: str, topic: str, partition: int, stream: str = "") -> str:
    """The partition's done set in `stream`: the offsets handled, one by one."""
    return _partition_key(DONE_PREFIX, group, topic, partition, stream)


def replay_stream(generation: int) -> str:
    """The stream of replay `generation`: its mark is beside the partition's own (`...:rN`)."""
    return f"r{generation}"


def redrive_stream(route: str) -> str:
    """The stream under which the messages of origin re-driven for `route` are kept (their origin offsets)."""
    return f"{OLD_REDRIVE_STREAM}:{route}"


def replay_key(group: str, topic: str, partition: int) -> str:
    """The partition's replay window."""
    return _partition_key(REPLAY_PREFIX, group, topic, partition)


def chain_key(chain: str) -> str:
    """The chains of an ordered route in one partition, named `<job id prefix>:<partition>` (JobNaming.chain)."""
    return CHAIN_PREFIX + chain


def replay_generation_key(group: str) -> str:
    """The group's replay counter."""
    return REPLAY_GENERATION_PREFIX + group


def instance_key(name: str) -> str:
    """A daemon's published status snapshot."""
    return INSTANCE_PREFIX + name


def history_key(series: str, chunk: int) -> str:
    """One chunk of a series' history (`chunk`: its first step's number since the epoch, over the chunk size)."""
    return f"{HISTORY_PREFIX}{series}:{chunk}"


# --- RQ's ------------------------------------------------------------------------------------------

QUEUES_KEY = "rq:queues"
"""The set of every queue's key (RQ's Queue.all reads it)."""
QUEUE_KEY_PREFIX = "rq:queue:"
"""A queue: a list of job ids."""
JOB_KEY_PREFIX = "rq:job:"
"""A job: a hash (see routes/jobs.py)."""
SCHEDULED_KEY_PREFIX = "rq:scheduled:"
"""A queue's ScheduledJobRegistry: job ids scored by when they are due."""
DEFERRED_KEY_PREFIX = "rq:deferred:"
"""A queue's DeferredJobRegistry: the jobs waiting for another job to finish, scored by when they were added."""
READY_KEY_PREFIX = "rq:ready:"
"""A queue's ReadyJobRegistry (RQ 3.0): jobs whose dependency finished, on their way to the queue."""
FAILED_KEY_PREFIX = "rq:failed:"
"""A queue's FailedJobRegistry: the jobs that failed for good, scored by when they expire."""
RESULTS_KEY_PREFIX = "rq:results:"
"""A job's results: a stream, newest last, one entry per run (rq/results.py)."""


def queue_key(queue: str) -> str:
    """The queue's list of job ids."""
    return QUEUE_KEY_PREFIX + queue


def job_key(job_id: str) -> str:
    """The job's hash."""
    return JOB_KEY_PREFIX + job_id


def deferred_key(queue: str) -> str:
    """The queue's DeferredJobRegistry; a worker that finishes a job enqueues the jobs waiting for it."""
    return DEFERRED_KEY_PREFIX + queue


def ready_key(queue: str) -> str:
    """The queue's ReadyJobRegistry (store/ready.py)."""
    return READY_KEY_PREFIX + queue


def failed_key(queue: str) -> str:
    """The queue's FailedJobRegistry."""
    return FAILED_KEY_PREFIX + queue


def results_key(job_id: str) -> str:
    """The job's results (RQ's Result.get_key): a failed run's entry holds its exception."""
    return RESULTS_KEY_PREFIX + job_id


def dependents_key(job_id: str) -> str:
    """The jobs waiting for this one (RQ's Job.dependents_key)."""
    return f"{JOB_KEY_PREFIX}{job_id}:dependents"


def dependencies_key(job_id: str) -> str:
    """The jobs this one waits for (RQ's Job.dependencies_key, whose prefix RQ 3.0 ends with a second colon)."""
    return f"{JOB_KEY_PREFIX}:{job_id}:dependencies"


def scheduled_key(queue: str) -> str:
    """The queue's ScheduledJobRegistry, from which RQ's scheduler moves a job to the queue when it is due."""
    return SCHEDULED_KEY_PREFIX + queue
