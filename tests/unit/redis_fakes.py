"""A small stand-in for a redis-py client's pipeline, for unit tests of what the operator commands write and read."""

from __future__ import annotations

from typing import Any


class FakePipeline:
    """Records the commands of a redis-py pipeline; HEXISTS answers from `client.fields`."""

    def __init__(self, client: FakeRedis) -> None:
        self.client = client
        self.answers: list[Any] = []

    def __enter__(self) -> FakePipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def hexists(self, key: str, name: str) -> None:
        self.answers.append((key, name) in self.client.fields)

    def __getattr__(self, command: str) -> Any:
        def call(*args: Any) -> None:
            self.client.commands.append((command, *args))
            self.answers.append(True)
        return call

    def execute(self) -> list[Any]:
        return self.answers


class FakeRedis:
    """Records the commands of its pipelines; HEXISTS answers from `fields` ((key, field) pairs)."""

    def __init__(self, fields: set[tuple[str, str]] | None = None) -> None:
        self.fields = fields or set()
        self.commands: list[tuple[Any, ...]] = []

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        return FakePipeline(self)
