"""`karafkad replay`: a group's messages consumed again on purpose, each one new job, enqueued once.

Real broker, real Redis, the real command; job ids are checked against what
the topic holds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from harness import (
    Daemon,
    committed_offsets,
    create_topic,
    end_offsets,
    job_ids,
    job_prefix,
    karafkad,
    kcat_produce,
    kcat_read,
    routes_yaml,
    topic_messages,
    unique,
    wait_for,
    wait_until_consumed,
)


def _consumed_group(tmp_path: Path, messages: int = 300, routes: list[str] | None = None,
                    partitions: int = 3, **route: object) -> tuple[Path, str, str, str]:
    """A topic whose messages a group has consumed (one run, stopped); its routes file, topic, group, queue."""
    topic = create_topic(unique("replay"), partitions=partitions)
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [
        {"name": name, "topic": topic, "handler": "effects.record", "queue": queue, **route}
        for name in (routes or ["main"])]}}))
    values = [json.dumps({"n": n}) for n in range(messages)]
    for partition in range(partitions):  # every partition gets its share (kcat's sticky partitioner may skip one)
        kcat_produce(topic, values[partition::partitions], partition=partition)
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    assert daemon.stop() == 0, daemon.logs()
    return config, topic, group, queue


def _ids(group: str, topic: str, route: str, suffix: str = "") -> set[str]:
    prefix = job_prefix(group, topic, route)
    return {f"{prefix}-{p}-{o}{suffix}" for p, o in topic_messages(topic)}


def _assert_each_once(queue: str, wanted: set[str]) -> None:
    ids = job_ids(queue)
    assert len(ids) == len(set(ids)), "a job was enqueued twice"
    assert set(ids) == wanted, (sorted(wanted - set(ids))[:5], sorted(set(ids) - wanted)[:5])


def test_a_replay_to_the_start_makes_every_message_one_new_job(tmp_path: Path) -> None:
    """The dry run changes nothing; the replay makes every message one job again, with ids distinct from the
    first run's (which stay)."""
    config, topic, group, queue = _consumed_group(tmp_path)
    first = _ids(group, topic, "main")
    _assert_each_once(queue, first)

    dry = karafkad("replay", "-c", str(config), "-g", group, "--earliest", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "a new replay" in dry.stdout and "up to 300 messages on 3 partitions" in dry.stdout
    assert committed_offsets(group, topic) == end_offsets(topic)

    replay = karafkad("replay", "-c", str(config), "-g", group, "--earliest")
    assert replay.returncode == 0, replay.stderr
    assert all(offset == 0 for offset in committed_offsets(group, topic).values())
    generation = replay.stdout.rsplit("-r", 1)[1].rstrip(")\n")
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    _assert_each_once(queue, first | _ids(group, topic, "main", f"-r{generation}"))
    page = daemon.get("/")[1]
    assert "Recent operations" in page and f"replay {generation} of group {group}: 3 partitions moved" in page
    assert daemon.stop() == 0, daemon.logs()


def test_a_replay_is_refused_while_the_group_has_members(tmp_path: Path) -> None:
    """As Kafka's own tool: a running member would go on from where it is; the refusal names it. The dry run
    shows the plan all the same, then a note naming the member."""
    config, topic, group, _ = _consumed_group(tmp_path, messages=20, partitions=1)
    daemon = Daemon(config).start().wait_ready()
    dry = karafkad("replay", "-c", str(config), "-g", group, "--earliest", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    plan, note = dry.stdout.split("dry run: nothing was changed\n")
    assert "up to 20 messages on 1 partition to replay" in plan
    assert note.startswith("note: the replay itself will be refused until they stop: ")
    assert "has 1 active member: " in note and "karafkad-test" in note
    refused = karafkad("replay", "-c", str(config), "-g", group, "--earliest")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "1 active member: " in refused.stderr and "karafkad-test" in refused.stderr
    assert committed_offsets(group, topic) == end_offsets(topic)
    assert daemon.stop() == 0, daemon.logs()


def test_killing_the_daemon_during_a_replayed_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """kill -9 in the middle of the replayed run, start again: every message is one replayed job, once."""
    config, topic, group, queue = _consumed_group(tmp_path, messages=2000, before_enqueue="effects.slowly")
    first = _ids(group, topic, "main")
    replay = karafkad("replay", "-c", str(config), "-g", group, "--earliest")
    assert replay.returncode == 0, replay.stderr
    generation = replay.stdout.rsplit("-r", 1)[1].rstrip(")\n")
    daemon = Daemon(config).start()
    wait_for(lambda: len(job_ids(queue)) > len(first) + 300, 120, "part of the replay is enqueued")
    daemon.kill()
    assert len(job_ids(queue)) < 2 * len(first), "the replay finished before the kill; use more messages"
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    _assert_each_once(queue, first | _ids(group, topic, "main", f"-r{generation}"))
    assert daemon.stop() == 0, daemon.logs()


def test_an_interrupted_replay_is_completed_by_running_it_again_and_a_different_one_is_refused(
        tmp_path: Path) -> None:
    """The same replay again: "completing it", same generation; another start point while it is under way: refused."""
    config, topic, group, queue = _consumed_group(tmp_path, messages=60, partitions=2)
    first = _ids(group, topic, "main")
    assert karafkad("replay", "-c", str(config), "-g", group, "--earliest").returncode == 0
    again = karafkad("replay", "-c", str(config), "-g", group, "--earliest")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("completing replay ") and "which is under way; routes: all" in again.stdout
    other = karafkad("replay", "-c", str(config), "-g", group, "--offset", "5")
    assert other.returncode == 1 and "still under way" in other.stderr
    generation = again.stdout.split()[2]
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    _assert_each_once(queue, first | _ids(group, topic, "main", f"-r{generation}"))
    assert daemon.stop() == 0, daemon.logs()


def test_a_replay_limited_to_one_route_runs_only_that_route(tmp_path: Path) -> None:
    """--route b: b's jobs again; route a, which also consumes the topic, is not run a second time."""
    config, topic, group, queue = _consumed_group(tmp_path, messages=40, routes=["a", "b"], partitions=1)
    first = _ids(group, topic, "a") | _ids(group, topic, "b")
    replay = karafkad("replay", "-c", str(config), "-g", group, "--earliest", "--route", "b")
    assert replay.returncode == 0, replay.stderr
    assert f"moved 1 partition of group {group!r} back" in replay.stdout
    generation = replay.stdout.rsplit("-r", 1)[1].rstrip(")\n")
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    _assert_each_once(queue, first | _ids(group, topic, "b", f"-r{generation}"))
    assert daemon.stop() == 0, daemon.logs()


def test_a_replay_from_a_time_after_the_newest_message_says_so(tmp_path: Path) -> None:
    """Issue 18: --time in the future said "payments[0]: the group has handled only up to 13: nothing to replay
    from 13". Now, once for all partitions: in the future, or (a past time) after the newest message."""
    config, topic, group, _ = _consumed_group(tmp_path, messages=20, partitions=2)
    tomorrow = str(int(time.time()) + 86_400)
    future = karafkad("replay", "-c", str(config), "-g", group, "--time", tomorrow, "--dry-run")
    assert future.returncode == 1 and future.stdout == ""
    assert future.stderr == (f"karafkad replay: refused: nothing to replay: that time is in the future; no message "
                             f"is at or after it ({topic}[0], {topic}[1])\n")
    newest = max(int(stamp) for stamp in kcat_read(topic, "%T\\n"))
    past = karafkad("replay", "-c", str(config), "-g", group, "--time", str(newest + 1))
    assert past.returncode == 1 and past.stdout == ""
    assert past.stderr == (f"karafkad replay: refused: nothing to replay: that time is after the newest message of "
                           f"every partition ({topic}[0], {topic}[1])\n")
