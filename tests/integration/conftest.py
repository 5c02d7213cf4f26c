"""Integration tests run against the real broker and Redis that scripts/test starts.

If they are not running (pytest started by hand), the session starts them
with the same scripts, and stops at the end only what it started.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import EFFECTS_ENV, script


def _running(name: str) -> bool:
    return script(name, "status", check=False).returncode == 0


@pytest.fixture(scope="session", autouse=True)
def services() -> Iterator[None]:
    started = [name for name in ("kafka", "redis") if not _running(name)]
    for name in started:
        script(name, "start")
    yield
    for name in reversed(started):
        script(name, "stop", check=False)


@pytest.fixture(autouse=True)
def clean_redis(services: None) -> None:
    """Each test starts with an empty Redis (topics and groups are unique per test)."""
    from harness import redis_client

    redis_client().flushall()


@pytest.fixture(autouse=True)
def no_daemon_outlives_its_test() -> Iterator[None]:
    """A failed assertion must not leave a karafkad running (and eating the CPU of later tests)."""
    from harness import RUNNING

    yield
    while RUNNING:
        RUNNING.pop().kill()


@pytest.fixture(autouse=True)
def effects_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in EFFECTS_ENV.items():
        monkeypatch.setenv(key, value)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)
