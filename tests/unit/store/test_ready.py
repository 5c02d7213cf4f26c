"""store/ready.py without Redis: which script runs, once per queue, with which keys and arguments (a fake script).

What release_ready.lua does in Redis (a job RQ left in the ready registry put
on its queue, once) is tests/integration/test_rq_contract.py's and
test_ordering.py's.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis

from karafkad.config.settings import RedisSettings
from karafkad.errors import EnqueueError
from karafkad.store.keys import JOB_KEY_PREFIX, queue_key, ready_key
from karafkad.store.ready import MOST_AT_ONCE, SCRIPT, ReadyJobs


class FakeClient:
    """Registers one script; each call of it is noted and answers the next of `moved` (or raises `fail`)."""

    def __init__(self, moved: list[int]) -> None:
        self.moved = moved
        self.registered: list[str] = []
        self.calls: list[tuple[list[str], list[Any]]] = []
        self.fail: redis.RedisError | None = None

    def register_script(self, text: str) -> Any:
        self.registered.append(text)

        def script(keys: list[str], args: list[Any]) -> int:
            if self.fail is not None:
                raise self.fail
            self.calls.append((keys, args))
            return self.moved.pop(0)
        return script


class TestReadyJobs:
    def test_the_script_is_registered_once_with_the_client(self) -> None:
        """release_ready.lua, read from the package, is registered when the mover is made (and run by SHA later)."""
        client = FakeClient([])
        ReadyJobs(client)  # type: ignore[arg-type]
        assert client.registered == [SCRIPT]
        assert "KEYS[1]  the queue's ReadyJobRegistry (rq:ready:QUEUE), KEYS[2] the queue (rq:queue:QUEUE)" in SCRIPT

    def test_each_queue_is_one_call_with_its_registry_and_its_list(self) -> None:
        """Keys: the queue's ready registry and its job list; arguments: the job key prefix, one RQ timestamp for
        the whole turn, and how many jobs one call moves at most. The answer is the sum moved."""
        client = FakeClient([2, 0, 5])
        moved = ReadyJobs(client).release(["a", "b", "c"])  # type: ignore[arg-type]
        assert moved == 7
        assert [keys for keys, _ in client.calls] == [[ready_key(q), queue_key(q)] for q in ("a", "b", "c")]
        stamps = {args[1] for _, args in client.calls}
        assert len(stamps) == 1 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamps.pop())
        assert all(args[0] == JOB_KEY_PREFIX and args[2] == MOST_AT_ONCE for _, args in client.calls)

    def test_no_queues_no_call(self) -> None:
        """Nothing to move without an ordered queue: no round trip."""
        client = FakeClient([])
        assert ReadyJobs(client).release([]) == 0  # type: ignore[arg-type]
        assert client.calls == []

    def test_a_redis_failure_is_an_enqueue_error_with_the_password_masked(self) -> None:
        """The store's one wording of a Redis failure, in the words of the link's settings."""
        client = FakeClient([])
        client.fail = redis.ConnectionError("cannot reach redis://u:hunter2@r:6379/0")
        mover = ReadyJobs(client, RedisSettings(url="redis://u:hunter2@r:6379/0"))  # type: ignore[arg-type]
        with pytest.raises(EnqueueError) as caught:
            mover.release(["a"])
        assert str(caught.value).startswith("Redis: ConnectionError: ") and "hunter2" not in str(caught.value)
