"""Integration tests run against the real broker and Redis that scripts/test starts.

If they are not running (pytest started by hand), the session starts them
with the same scripts, and stops at the end only what it started. The
three-node cluster (scripts/kafka-cluster) is started only for the test
module that asks for it (the `kafka_cluster` fixture), the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import Cluster
from harness import EFFECTS_ENV, committed_offsets, script, wait_for
from kafka.errors import KafkaError


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


@pytest.fixture(scope="module")
def kafka_cluster(services: None) -> Iterator[Cluster]:
    """The three-node cluster, all nodes serving; stopped after the module if it started it (three idle brokers
    would take CPU from the rest of the run)."""
    cluster = Cluster()
    started = not cluster.running()
    cluster.start()  # also starts a node that an earlier, interrupted run left stopped
    # The group coordinators' topic exists only once a client has looked a coordinator up; the
    # tests ask where a group's coordinator is before the group exists.
    wait_for(lambda: _offsets_topic_made(cluster), 60, "the cluster has made __consumer_offsets")
    yield cluster
    if started:
        cluster.stop()


def _offsets_topic_made(cluster: Cluster) -> bool:
    try:
        committed_offsets("karafkad-tests-probe", "none", cluster.bootstrap)
    except KafkaError:
        return False
    return script("kafka-cluster", "coordinator", "karafkad-tests-probe", check=False).returncode == 0


@pytest.fixture(scope="session")
def schema_registry(services: None) -> Iterator[None]:
    """The schema registry (scripts/registry, with basic auth and HTTPS): scripts/test starts it in the background
    before ruff and mypy (it takes about a minute); this waits for it, or starts it. Stopped at the end only if
    this session started it."""
    import registry

    started = registry.ensure_running()
    yield
    if started:
        registry.script("stop")


@pytest.fixture(autouse=True)
def clean_redis(services: None) -> None:
    """Each test starts with an empty Redis (topics and groups are unique per test)."""
    import warnings

    import redis
    from harness import redis_client

    try:
        redis_client().flushall()
    except redis.ConnectionError:
        # An earlier test failed before it could start the Redis it stopped: start it again, so that one
        # failure stays one failure instead of an error in every test after it.
        warnings.warn("Redis was down at the start of this test (left stopped by an earlier one); restarted",
                      stacklevel=1)
        script("redis", "start")
        redis_client().flushall()


@pytest.fixture(autouse=True)
def no_daemon_outlives_its_test() -> Iterator[None]:
    """A failed assertion must not leave a karafkad or an RQ worker running (and eating the CPU of later tests)."""
    from harness import RUNNING, WORKERS

    yield
    while RUNNING:
        RUNNING.pop().kill()
    while WORKERS:
        WORKERS.pop().stop()


@pytest.fixture(autouse=True)
def effects_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in EFFECTS_ENV.items():
        monkeypatch.setenv(key, value)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The recovery times the fault tests recorded (`record_property("recovery", text)`), after the run."""
    lines = [f"{report.nodeid.rsplit('::', 1)[-1]}: {value}"
             for outcome in ("passed", "failed") for report in terminalreporter.stats.get(outcome, [])
             for name, value in getattr(report, "user_properties", ()) if name == "recovery"]
    if lines:
        terminalreporter.write_sep("-", "recovery times")
        for line in lines:
            terminalreporter.write_line(line)
