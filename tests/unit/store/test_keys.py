"""store/keys.py: every Redis key karafkad writes or reads, spelled as Redis (and RQ) holds it."""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from karafkad.store import keys
from karafkad.store.replays import ReplayWindow


class TestKarafkadKeys:
    def test_a_partition_mark_per_stream(self) -> None:
        """The group's own mark has no stream; a replay's or a re-drive's adds it at the end."""
        assert keys.mark_key("g", "orders", 3) == "karafkad:mark:g:orders:3"
        assert keys.mark_key("g", "orders", 3, keys.replay_stream(2)) == "karafkad:mark:g:orders:3:r2"
        assert keys.mark_key("g", "orders", 3, ReplayWindow(2, 0, 5).stream) == "karafkad:mark:g:orders:3:r2"

    def test_done_sets_of_the_redrive_streams(self) -> None:
        """A re-drive keeps its offsets done per route; earlier versions kept them per dead letter's place."""
        assert keys.done_key("g", "orders", 0, keys.redrive_stream("a")) == "karafkad:done:g:orders:0:redrive:a"
        assert keys.done_key("g", "dead", 1, keys.OLD_REDRIVE_STREAM) == "karafkad:done:g:dead:1:redrive"

    def test_replay_windows_the_counter_and_the_events(self) -> None:
        """A window per partition, one replay counter per group, one events list."""
        assert keys.replay_key("g", "orders", 3) == "karafkad:replay:g:orders:3"
        assert keys.replay_generation_key("g") == "karafkad:replays:g"
        assert keys.EVENTS_KEY == "karafkad:events"

    def test_the_consoles_keys(self) -> None:
        """A snapshot per daemon and the set of daemons seen; the operators' pauses; history chunks per series."""
        assert keys.instance_key("host-1") == "karafkad:instance:host-1"
        assert keys.INSTANCES_KEY == "karafkad:instances"
        assert keys.PAUSES_KEY == "karafkad:paused"
        assert keys.history_key("group:consumed:shop", 7) == "karafkad:history:group:consumed:shop:7"
        assert keys.HISTORY_SERIES_KEY == "karafkad:history-series"


class TestRqKeys:
    def test_rq_spells_its_keys_this_way(self) -> None:
        """The keys RQ's own Queue, Job and ScheduledJobRegistry use, so a stock worker finds the jobs."""
        connection = Redis()  # no command is sent: a client connects only when used
        assert keys.queue_key("orders") == Queue("orders", connection=connection).key == "rq:queue:orders"
        assert keys.QUEUES_KEY == Queue.redis_queues_keys == "rq:queues"
        assert keys.job_key("kd-1") == Job.key_for("kd-1") == "rq:job:kd-1"
        assert keys.scheduled_key("orders") == ScheduledJobRegistry("orders", connection=connection).key
        assert keys.scheduled_key("orders") == "rq:scheduled:orders"
