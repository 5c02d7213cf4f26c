"""A Supervisor over fake consumer threads (no Kafka), for the supervisor's and the main loop's unit tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis import Redis
from tables import make_table

from karafkad.supervision.supervisor import Supervisor


@dataclass
class FakeThread:
    """What the watchdog reads of a ConsumerThread."""

    name: str
    progressed_at: float = field(default_factory=time.monotonic)
    alive: bool = True
    joined: Any = None
    fatal: str | None = None

    def is_alive(self) -> bool:
        return self.alive


class FakeRunner:
    def __init__(self, threads: list[FakeThread]) -> None:
        self.threads = threads

    def joined(self) -> bool:
        return True


class WatchedSupervisor(Supervisor):
    """A Supervisor whose groups are fake threads (no Kafka): start() installs them."""

    def __init__(self, tmp_path: Path, threads: list[FakeThread]) -> None:
        table = make_table(tmp_path, {"g": {"routes": [{"name": "r", "topic": "t", "handler": "h.handle"}]}})
        # Never connected to: start() and redis_reachable() are replaced.
        super().__init__(table, redis_client=Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.2))
        self.fake_threads = threads

    def start(self) -> None:
        self.runners = {"g": FakeRunner(self.fake_threads)}  # type: ignore[dict-item]

    def redis_reachable(self) -> bool:
        return True
