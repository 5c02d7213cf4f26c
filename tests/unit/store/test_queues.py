"""store/queues.py: RQ queue lengths, all read in one round trip."""

from __future__ import annotations

import pytest
import redis
from redis_fakes import FakeRedis

from karafkad.errors import EnqueueError
from karafkad.store.keys import deferred_key, queue_key
from karafkad.store.queues import QueueLengths


class TestQueueLengths:
    def test_every_queue_is_read_in_one_round_trip(self) -> None:
        """Each queue's length from its RQ list; a queue nobody wrote to is 0."""
        client = FakeRedis()
        client.lists[queue_key("orders")] = [b"a", b"b", b"c"]
        lengths = QueueLengths(client).read(["orders", "refunds"])  # type: ignore[arg-type]
        assert lengths == {"orders": 3, "refunds": 0}
        assert client.round_trips == 1

    def test_jobs_waiting_for_an_earlier_job_of_their_key_count_as_in_the_queue(self) -> None:
        """An ordered route's deferred jobs (RQ's deferred registry) will run from the queue: a held key cannot
        grow Redis past the watermark unseen."""
        client = FakeRedis()
        client.lists[queue_key("orders")] = [b"a"]
        client.zsets[deferred_key("orders")] = {b"b": 1.0, b"c": 1.0}
        assert QueueLengths(client).read(["orders"]) == {"orders": 3}  # type: ignore[arg-type]

    def test_a_redis_failure_is_an_enqueue_error(self) -> None:
        """The gate and the status page catch EnqueueError only."""
        client = FakeRedis()
        client.fail = redis.TimeoutError("Timeout reading from socket")
        with pytest.raises(EnqueueError, match="TimeoutError"):
            QueueLengths(client).read(["orders"])  # type: ignore[arg-type]
