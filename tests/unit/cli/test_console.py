"""cli/console.py: the console put together on a running daemon (a supervisor on fakes): the maintenance chores
that publish for every console, and the held keys read and released through the ops floor over the daemon's own
Redis clients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redis_fakes import FakeRedis, held_scan_answer
from tables import make_table
from web_fakes import Board

from karafkad.cli.console import console, publish
from karafkad.config.settings import Config, RedisSettings
from karafkad.observability import Metrics
from karafkad.routes.table import RouteTable
from karafkad.store.keys import chain_key
from karafkad.supervision.maintenance import Maintenance
from karafkad.web.app import Request

pytestmark = pytest.mark.usefixtures("isolated_imports")


class FakeRedises:
    """The supervisor's Redis clients: one FakeRedis per Redis."""

    def __init__(self, client: FakeRedis) -> None:
        self.client = client
        self.asked: list[RedisSettings] = []

    def client_for(self, settings: RedisSettings, config: Config) -> FakeRedis:
        self.asked.append(settings)
        return self.client


class FakeSupervisor:
    """What cli/console.py reads of the Supervisor."""

    def __init__(self, table: RouteTable) -> None:
        self.table = table
        self.redis = FakeRedis()
        self.redises = FakeRedises(self.redis)
        self.maintenance = Maintenance(list)
        self.instance = {"name": "d1", "host": "h", "pid": 1}

    def ready(self) -> bool:
        return True

    def not_ready_reason(self) -> str | None:
        return None


@pytest.fixture
def supervisor(tmp_path: Path) -> FakeSupervisor:
    return FakeSupervisor(make_table(tmp_path, {"shop": {"routes": [
        {"name": "orders", "topic": "orders", "handler": "h.handle", "queue": "q", "ordering": "key"}]}}))


def get(app: Any, path: str) -> str:
    answer = app.handle(Request("GET", path, {}, {"host": "127.0.0.1:8080"}, client="127.0.0.1"))
    assert answer.status == 200, answer.body
    return str(answer.body.decode())


class TestPublish:
    def test_the_status_and_the_history_become_maintenance_chores(self, supervisor: FakeSupervisor) -> None:
        """Publishing is a final chore (its last run says the daemon stopped), sampling the history is not."""
        publish(supervisor, Board().board)  # type: ignore[arg-type]
        chores = {c.name: c.final for c in supervisor.maintenance.chores}
        assert chores == {"ready jobs": False, "publish the status": True, "sample the history": False}


class TestConsole:
    def test_the_held_keys_page_reads_them_through_the_ops_floor(self, supervisor: FakeSupervisor) -> None:
        """/held looks at the ordered route's failed jobs on the daemon's own client for the group's Redis, and
        shows the key its failed job holds."""
        prefix = supervisor.table.routes[0].id_prefixes["orders"]
        job = f"{prefix}-0-7"
        supervisor.redis.script_answers.append(held_scan_answer(1, 1, (job, f"{chain_key(prefix + ':0')}\nk:c1", 2)))
        app = console(supervisor, Board().board, Metrics())  # type: ignore[arg-type]
        page = get(app, "/held")
        assert f'data-job="{job}"' in page and "ValueError: no such customer" in page
        assert supervisor.redises.asked == [supervisor.table.config.redis_for("shop")]
        assert [args[0] for _, args in supervisor.redis.script_calls] == ["rq:failed:q"]
