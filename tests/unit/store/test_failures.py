"""store/failures.py: the store's one way of turning Redis failures into EnqueueError."""

from __future__ import annotations

import pytest
import redis

from karafkad.config.settings import RedisSettings
from karafkad.errors import EnqueueError, ReplicasBehind
from karafkad.store.failures import redis_failures


class TestRedisFailures:
    def test_a_redis_error_becomes_an_enqueue_error_naming_it(self) -> None:
        """The class and message of Redis's error, after "Redis: ", and the original as the cause."""
        error = redis.ConnectionError("Error 111 connecting to localhost:6379.")
        with pytest.raises(EnqueueError) as caught, redis_failures():
            raise error
        assert str(caught.value) == "Redis: ConnectionError: Error 111 connecting to localhost:6379."
        assert caught.value.__cause__ is error

    def test_a_password_in_the_error_is_masked(self) -> None:
        """An error quoting a Redis URL with its password does not carry the password on."""
        settings = RedisSettings(url="redis://user:hunter2@db:6379/0")
        with pytest.raises(EnqueueError) as caught, redis_failures(settings):
            raise redis.ConnectionError("cannot reach redis://user:hunter2@db:6379/0")
        assert "hunter2" not in str(caught.value)

    def test_other_errors_pass_unchanged(self) -> None:
        """ReplicasBehind (already an EnqueueError) and errors that are not Redis's are not rewrapped."""
        with pytest.raises(ReplicasBehind) as caught, redis_failures():
            raise ReplicasBehind("replicas")
        assert str(caught.value) == "replicas"
        with pytest.raises(ValueError, match="bad"), redis_failures():
            raise ValueError("bad")
