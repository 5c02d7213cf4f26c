"""`karafkad worker` serves each queue from the Redis its jobs are written to, with their serializer."""

from __future__ import annotations

from pathlib import Path

import pytest
from tables import make_table

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
