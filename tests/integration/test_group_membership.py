"""Restarts without rebalances (static membership), and assignors that move only what must move.

Two real daemons in one group on the real broker; what each one holds is
read from its own log ("assignment changed" lines with the partitions revoked
and added) and from /status.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import (
    Daemon,
    assert_exactly_once,
    create_topic,
    kcat_produce,
    routes_yaml,
    unique,
    wait_for,
    wait_until_consumed,
)


def _config(tmp_path: Path, name: str, group: str, topic: str, queue: str, **options: Any) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(routes_yaml({group: {**options, "routes": [
        {"topic": topic, "handler": "effects.record", "queue": queue}]}}))
    return config


def _held(daemon: Daemon) -> set[str]:
    """The partitions the daemon's consumer threads hold now, as `topic[n]`."""
    status = json.loads(daemon.get("/status.json")[1])
    return {p for info in status["groups"].values() for t in info["threads"] for p in t["partitions"]}


def _changes(daemon: Daemon) -> list[dict[str, Any]]:
    return [e for e in daemon.events() if e.get("event") == "assignment changed"]


def test_a_static_member_restarted_within_the_session_timeout_causes_no_rebalance(tmp_path: Path) -> None:
    """Member A restarts (SIGTERM, start again with the same instance id): it takes back its own partitions,
    member B's assignment never changes, and every message is still one job."""
    topic = create_topic(unique("static"), partitions=4)
    group, queue = unique("g"), unique("q")
    options = {"session_timeout_ms": 30000}
    a_config = _config(tmp_path, "a", group, topic, queue, **options)
    b_config = _config(tmp_path, "b", group, topic, queue, **options)
    a = Daemon(a_config, extra_args=["--instance-id", "host-a"]).start().wait_ready()
    b = Daemon(b_config, extra_args=["--instance-id", "host-b"]).start().wait_ready()
    wait_for(lambda: len(_held(a)) == 2 and len(_held(b)) == 2, 60, "the members share the partitions")
    a_before, b_before = _held(a), _held(b)
    b_changes = len(_changes(b))
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(200)])

    assert a.stop() == 0, a.logs()
    a = Daemon(a_config, extra_args=["--instance-id", "host-a"]).start().wait_ready()
    wait_for(lambda: _held(a) == a_before, 60, "the restarted member holds its own partitions again")
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(200, 400)])
    wait_until_consumed(b, topic, group)

    assert _held(b) == b_before
    assert len(_changes(b)) == b_changes, _changes(b)  # B never went through a rebalance
    assert [e["partitions"] for e in _changes(a)] == [sorted(a_before)]  # A: one assignment, its own
    assert assert_exactly_once(topic, group, queue) == 400
    assert a.stop() == 0 and b.stop() == 0


def test_a_second_daemon_with_the_same_instance_id_stops_the_first_with_exit_1(tmp_path: Path) -> None:
    """Two running members must not share an instance id: the broker gives the partitions to the later one,
    and the earlier one says so in one line and exits 1, which the unit files do not restart."""
    topic = create_topic(unique("fenced"), partitions=2)
    group, queue = unique("g"), unique("q")
    first = Daemon(_config(tmp_path, "first", group, topic, queue),
                   extra_args=["--instance-id", "same-host"]).start().wait_ready()
    second = Daemon(_config(tmp_path, "second", group, topic, queue),
                    extra_args=["--instance-id", "same-host"]).start().wait_ready()
    assert first.wait(90) == 1, first.logs()
    [line] = [e for e in first.events() if e.get("event") == "static member fenced; this consumer stops"]
    assert "'same-host-0'" in line["reason"] and "its own instance id" in line["reason"]
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(50)])
    wait_until_consumed(second, topic, group)
    assert assert_exactly_once(topic, group, queue) == 50
    assert second.stop() == 0, second.logs()


def test_with_cooperative_sticky_a_joining_member_moves_only_the_partitions_it_takes(tmp_path: Path) -> None:
    """cooperative-sticky: when B joins, A gives up exactly the partitions B gets and keeps consuming the
    others throughout (its assignment is never emptied, as an eager rebalance would do)."""
    topic = create_topic(unique("coop"), partitions=6)
    group, queue = unique("g"), unique("q")
    options = {"assignment_strategy": "cooperative-sticky"}
    a = Daemon(_config(tmp_path, "a", group, topic, queue, **options)).start().wait_ready()
    wait_for(lambda: len(_held(a)) == 6, 60, "A holds every partition")
    b = Daemon(_config(tmp_path, "b", group, topic, queue, **options)).start().wait_ready()
    wait_for(lambda: len(_held(a)) == 3 and len(_held(b)) == 3, 60, "A and B share the partitions")

    revoked = {p for e in _changes(a) for p in e["revoked"]}
    assert revoked == _held(b)
    assert all(e["partitions"] for e in _changes(a)), _changes(a)  # never emptied
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(120)])
    wait_until_consumed(a, topic, group)
    assert assert_exactly_once(topic, group, queue) == 120
    assert a.stop() == 0 and b.stop() == 0


def test_with_an_eager_assignor_a_joining_member_stops_everyone_first(tmp_path: Path) -> None:
    """The contrast, with the default `range`: A gives up all its partitions before taking some back."""
    topic = create_topic(unique("eager"), partitions=4)
    group, queue = unique("g"), unique("q")
    a = Daemon(_config(tmp_path, "a", group, topic, queue)).start().wait_ready()
    wait_for(lambda: len(_held(a)) == 4, 60, "A holds every partition")
    b = Daemon(_config(tmp_path, "b", group, topic, queue)).start().wait_ready()
    wait_for(lambda: len(_held(a)) == 2 and len(_held(b)) == 2, 60, "A and B share the partitions")
    revoked = {p for e in _changes(a) for p in e["revoked"]}
    assert len(revoked) == 4  # all of them, even the two A kept
    assert a.stop() == 0 and b.stop() == 0
