"""A drain that cannot finish: a second signal or an expired shutdown_timeout is a forced exit 2.

Redis is stopped so the batch in hand cannot be written; after the forced
exit and a restart with Redis back, nothing is lost and nothing is doubled.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from harness import (
    Daemon,
    assert_exactly_once,
    create_topic,
    kcat_produce,
    routes_yaml,
    script,
    unique,
    wait_for,
    wait_until_consumed,
)


def _stuck_daemon(tmp_path: Path, shutdown_timeout: float) -> tuple[Daemon, str, str, str, Path]:
    topic = create_topic(unique("t"), partitions=2)
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [{"topic": topic, "handler": "effects.record", "queue": queue}]}},
                                  extra={"daemon": {"shutdown_timeout": shutdown_timeout}}))
    daemon = Daemon(config).start().wait_ready()
    # A message in each partition while Redis answers: the daemon then knows the partitions' marks, so the
    # batch that follows is decided and held unwritten (without its marks it would be given back instead).
    for partition in (0, 1):
        kcat_produce(topic, [json.dumps({"n": 100 + partition})], partition=partition)
    wait_until_consumed(daemon, topic, group)
    script("redis", "stop")
    try:
        kcat_produce(topic, [json.dumps({"n": n}) for n in range(50)])
        wait_for(lambda: any(e.get("event", "").startswith("cannot deliver") for e in daemon.events()), 60,
                 "the daemon holds a batch it cannot write")
    except BaseException:
        script("redis", "start")  # never leave the next tests without Redis
        raise
    return daemon, topic, group, queue, config


def _heal_and_check(config: Path, topic: str, group: str, queue: str) -> None:
    script("redis", "start")
    again = Daemon(config).start().wait_ready()
    wait_until_consumed(again, topic, group)
    assert again.stop() == 0
    assert assert_exactly_once(topic, group, queue) == 52


def test_a_second_sigterm_during_a_stuck_drain_forces_exit_2(tmp_path: Path) -> None:
    """The first SIGTERM starts a drain that cannot finish; a second one (after the 1 s grace) exits 2 at once."""
    daemon, topic, group, queue, config = _stuck_daemon(tmp_path, shutdown_timeout=60)
    try:
        daemon.signal(signal.SIGTERM)
        time.sleep(1.5)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(20) == 2, daemon.logs()
        assert any(e.get("event") == "forced shutdown" and "second SIGTERM" in e.get("reason", "")
                   for e in daemon.events())
    finally:
        script("redis", "start")
    _heal_and_check(config, topic, group, queue)


def test_a_drain_outliving_shutdown_timeout_exits_2(tmp_path: Path) -> None:
    """With the batch unwritable, the drain gives up at shutdown_timeout: exit 2, offsets left uncommitted."""
    daemon, topic, group, queue, config = _stuck_daemon(tmp_path, shutdown_timeout=3)
    try:
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(30) == 2, daemon.logs()
        assert time.monotonic() - started >= 3  # a lower bound: it waited the whole timeout first
    finally:
        script("redis", "start")
    _heal_and_check(config, topic, group, queue)
