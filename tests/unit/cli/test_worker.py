"""`karafkad worker` serves each queue from the Redis its jobs are written to, with their serializer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tables import make_table

from karafkad.cli import worker
from karafkad.cli.worker import _shares, run_worker
from karafkad.config.settings import RedisSettings

MAIN, HEAVY = RedisSettings(url="redis://127.0.0.1:9/0"), RedisSettings(url="redis://127.0.0.1:9/1")


def test_queues_are_split_by_redis_and_serializer(tmp_path: Path) -> None:
    table = make_table(tmp_path, {
        "light": {"routes": [{"topic": "a", "handler": "h.handle", "queue": "a"},
                             {"topic": "p", "handler": "h.handle", "queue": "p", "job": {"serializer": "pickle"}}]},
        "heavy": {"redis": {"url": HEAVY.url}, "routes": [{"topic": "b", "handler": "h.handle", "queue": "b"},
                                                          {"topic": "c", "handler": "h.handle", "queue": "c"}]}},
        redis={"url": MAIN.url})
    assert _shares(table, ["a", "b", "p", "c"]) == {(MAIN, "json"): ["a"], (HEAVY, "json"): ["b", "c"],
                                                      (MAIN, "pickle"): ["p"]}
    assert _shares(table, ["elsewhere"]) == {(MAIN, "json"): ["elsewhere"]}  # a queue no route feeds


def test_a_named_worker_cannot_be_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--name names one RQ worker; queues on two Redis servers need two, so it is refused before connecting."""
    table = make_table(tmp_path, {
        "light": {"routes": [{"topic": "a", "handler": "h.handle", "queue": "a"}]},
        "heavy": {"redis": {"url": HEAVY.url}, "routes": [{"topic": "b", "handler": "h.handle", "queue": "b"}]}},
        redis={"url": MAIN.url})
    assert run_worker(table.config.file, [], name="w1") == 1
    error = capsys.readouterr().err
    assert "--name names one worker, but these queues need 2" in error
    assert "a on redis://127.0.0.1:9/0 (json); b on redis://127.0.0.1:9/1 (json)" in error


@pytest.mark.usefixtures("isolated_imports")
@pytest.mark.parametrize("fork", [True, False], ids=["forking", "no fork"])
def test_the_handlers_are_checked_then_forgotten_before_the_worker_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fork: bool) -> None:
    """The handlers were imported to check them; by the time RQ's worker runs (and forks its work horses)
    they are out of sys.modules again, so each job imports its handler from disk, as under `rq worker`."""
    table = make_table(tmp_path, {"g": {"routes": [{"topic": "a", "handler": "h.handle", "queue": "a"}]}},
                       redis={"url": MAIN.url})
    module = table.routes[0].handler.module
    seen: dict[str, object] = {}

    class FakeWorker:
        def __init__(self, queues: list[str], **options: object) -> None:
            seen["queues"] = queues

        def work(self, **options: object) -> None:
            seen["loaded"] = [name for name in sys.modules if name == module or name.startswith(module + ".")]
            seen["importable"] = str(tmp_path / "plugins") in sys.path

    monkeypatch.setattr(worker, "Worker", FakeWorker)
    monkeypatch.setattr(worker, "SimpleWorker", FakeWorker)
    monkeypatch.setattr(worker, "connect", lambda settings, blocking: None)
    assert module in sys.modules  # make_table checked the handler, as run_worker's own load does
    assert run_worker(table.config.file, [], fork=fork) == 0
    assert seen == {"queues": ["a"], "loaded": [], "importable": True}
