"""`karafkad dead-letters list` and `redrive`: dead letters read back and sent through the routes that rejected them.

Real broker, real Redis: the dead letters are the daemon's own, written by a
schema failure; after the schema is fixed, a re-drive makes each one a job
for the rejecting route only, once.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness import (
    Daemon,
    create_topic,
    job_ids,
    job_prefix,
    karafkad,
    kcat_produce,
    kcat_read,
    redis_client,
    routes_yaml,
    unique,
    wait_for,
    wait_until_consumed,
)

from karafkad.cli.output import operator
from karafkad.store import events
from karafkad.store.keys import OLD_REDRIVE_STREAM, done_key

STRICT = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
FIXED = {"type": "object", "required": ["id"], "properties": {"id": {"type": ["integer", "string"]}}}




def _write(config: Path, group: str, topic: str, dead: str, queue: str, schema: dict[str, object]) -> None:
    config.write_text(routes_yaml({group: {"routes": [
        {"name": "strict", "topic": topic, "handler": "effects.record", "queue": queue, "schema": schema,
         "dead_letter": dead},
        {"name": "lenient", "topic": topic, "handler": "effects.record", "queue": queue}]}}))


def test_dead_letters_are_listed_and_redriven_once_through_the_rejecting_route_only(tmp_path: Path) -> None:
    """Schema fixed: each dead letter becomes one job of `strict` (not `lenient` again), a second re-drive makes
    none, one that still fails is reported and kept."""
    topic, dead = create_topic(unique("orders"), partitions=2), create_topic(unique("dead"), partitions=2)
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    _write(config, group, topic, dead, queue, STRICT)
    messages = ([json.dumps({"id": n, "n": n}) for n in range(20)]
                + [json.dumps({"id": f"x{n}", "n": n}) for n in range(20, 30)]
                + [json.dumps({"n": 99})])  # no id at all: fails the fixed schema too
    kcat_produce(topic, messages)
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    wait_for(lambda: len(kcat_read(dead)) == 11, 60, "11 dead letters")
    assert daemon.stop() == 0, daemon.logs()
    lenient_before = [i for i in job_ids(queue) if i.startswith(job_prefix(group, topic, "lenient"))]
    assert len(lenient_before) == 31

    listed = karafkad("dead-letters", "list", "-c", str(config), "--kind", "schema")
    assert listed.returncode == 0, listed.stderr
    assert "11 dead letters shown" in listed.stdout and listed.stdout.count(" strict ") >= 11
    assert f"{topic}[" in listed.stdout and '{"id": "x20", "n": 20}' in listed.stdout

    _write(config, group, topic, dead, queue, FIXED)
    first = karafkad("dead-letters", "redrive", "-c", str(config))
    assert first.returncode == 1  # one still fails
    assert ("10 dead letters became 10 jobs; 0 already re-driven before; 0 repeats of an earlier dead letter of the "
            "same message; 1 still failing (kept)") in first.stdout
    assert "still failing, kept:" in first.stderr and '"id" is a required property' in first.stderr
    strict_jobs = [i for i in job_ids(queue) if i.startswith(job_prefix(group, topic, "strict") + "-")]
    redriven = [i for i in strict_jobs if "-d" in i.rsplit("-", 1)[1] or "_" in i.rsplit("-", 1)[1]]
    assert len(redriven) == 10 and len(set(redriven)) == 10
    assert [i for i in job_ids(queue) if i.startswith(job_prefix(group, topic, "lenient"))] == lenient_before

    again = karafkad("dead-letters", "redrive", "-c", str(config))
    assert "0 dead letters became 0 jobs; 10 already re-driven before; 0 repeats" in again.stdout
    assert len(job_ids(queue)) == 31 + 20 + 10
    assert len(kcat_read(dead)) == 11  # nothing is taken out of the dead-letter topic


def _all_dead_lettered(tmp_path: Path, count: int) -> tuple[str, str, str, str, Path]:
    """`count` messages the STRICT route rejects, consumed by a daemon (then stopped) into as many dead letters:
    (topic, dead-letter topic, group, queue, routes file)."""
    topic, dead = create_topic(unique("orders")), create_topic(unique("dead"))
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    _write(config, group, topic, dead, queue, STRICT)
    kcat_produce(topic, [json.dumps({"id": f"x{n}", "n": n}) for n in range(count)])
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    wait_for(lambda: len(kcat_read(dead)) == count, 60, f"{count} dead letters")
    assert daemon.stop() == 0, daemon.logs()
    return topic, dead, group, queue, config


def test_an_interrupted_redrive_run_again_enqueues_each_dead_letter_once(tmp_path: Path) -> None:
    """Half re-driven (the run was cut short: here by choosing part), then all: the first half is not repeated."""
    topic, dead, group, queue, config = _all_dead_lettered(tmp_path, 6)
    _write(config, group, topic, dead, queue, FIXED)
    cut = kcat_read(dead, "%T\\n")[3]  # the dead-letter timestamp of the fourth
    partial = karafkad("dead-letters", "redrive", "-c", str(config), "--until", cut)
    assert partial.returncode == 0, partial.stderr
    rest = karafkad("dead-letters", "redrive", "-c", str(config))
    assert rest.returncode == 0, rest.stderr
    done_first = int(partial.stdout.split(" dead letter")[0])
    assert f"{6 - done_first} dead letters became {6 - done_first} jobs; {done_first} already" in rest.stdout
    redriven = [i for i in job_ids(queue) if i.startswith(job_prefix(group, topic, "strict"))]
    assert len(redriven) == len(set(redriven)) == 6


def test_a_message_dead_lettered_twice_by_a_replay_is_redriven_once(tmp_path: Path) -> None:
    """A replay runs the rejecting route again: each message gets a second dead letter. `list` marks it a
    repeat; a re-drive makes one job per message and reports the repeats; the replay's dead letters alone, in a
    later run, make none (the mark is the message's, not the dead letter's); every run is a recorded operation,
    the ones that wrote nothing too."""
    topic, dead, group, queue, config = _all_dead_lettered(tmp_path, 4)
    replay = karafkad("replay", "-c", str(config), "-g", group, "--earliest")
    assert replay.returncode == 0, replay.stderr
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    wait_for(lambda: len(kcat_read(dead)) == 8, 60, "a second dead letter of each message")
    assert daemon.stop() == 0, daemon.logs()

    listed = karafkad("dead-letters", "list", "-c", str(config))
    assert listed.returncode == 0, listed.stderr
    assert "8 dead letters shown; 4 repeats of an earlier dead letter of the same message" in listed.stdout
    rows = {line.split()[2]: line for line in listed.stdout.splitlines() if f"{dead}[0]@" in line}
    for n in range(4):
        assert f" {dead}[0]@{n} " in rows[f"{dead}[0]@{n + 4}"], listed.stdout

    _write(config, group, topic, dead, queue, FIXED)
    first = karafkad("dead-letters", "redrive", "-c", str(config))
    assert first.returncode == 0, first.stderr
    assert ("4 dead letters became 4 jobs; 0 already re-driven before; 4 repeats of an earlier dead letter of the "
            "same message; 0 still failing") in first.stdout
    for n in range(4):
        assert f"not re-driven: {dead}[0]@{n + 4} (from {topic}[0]@{n}): repeat of {dead}[0]@{n}" in first.stdout
    prefix = job_prefix(group, topic, "strict")
    strict = [i for i in job_ids(queue) if i.startswith(prefix + "-")]
    assert sorted(strict) == [f"{prefix}-0-{n}-d0_{n}" for n in range(4)]

    cut = kcat_read(dead, "%T\\n")[4]  # the replay's dead letters only: no earlier one in the run
    later = karafkad("dead-letters", "redrive", "-c", str(config), "--since", cut)
    assert later.returncode == 0, later.stderr
    assert "0 dead letters became 0 jobs; 4 already re-driven before; 0 repeats" in later.stdout
    again = karafkad("dead-letters", "redrive", "-c", str(config))
    assert "0 dead letters became 0 jobs; 4 already re-driven before; 4 repeats" in again.stdout
    assert [i for i in job_ids(queue) if i.startswith(prefix + "-")] == strict

    runs = [e["message"] for e in events.recent(redis_client(), events.KEPT) if group in e.get("groups", ())]
    by = f"re-drive by {operator()}:"  # the events name who ran each re-drive (the console shows it)
    assert runs == [f"{by} {again.stdout.splitlines()[-1].rsplit(' (', 1)[0]}",
                    f"{by} {later.stdout.splitlines()[-1].rsplit(' (', 1)[0]}",
                    f"{by} {first.stdout.splitlines()[-1].rsplit(' (', 1)[0]}"]


TAGGED = {"type": "object", "required": ["tag"]}


def _two_routes(config: Path, group: str, topic: str, dead: str, queue: str, a: dict[str, object],
                b: dict[str, object]) -> None:
    """Routes a and b on `topic`, with the schemas given, dead-lettering to one topic."""
    config.write_text(routes_yaml({group: {"routes": [
        {"name": name, "topic": topic, "handler": "effects.record", "queue": queue, "schema": schema,
         "dead_letter": dead} for name, schema in (("a", a), ("b", b))]}}))


def test_a_dead_letter_of_two_routes_is_redriven_for_the_route_fixed_and_later_for_the_other(
        tmp_path: Path) -> None:
    """Issue 18's report: a and b both reject {"seq": 1} (no tag): one dead letter names both. Only b is fixed:
    `--route b` makes b's job (it said "1 still failing (kept)" and made none); `list` says a fails, b done; a
    re-drive of all says a still fails, for a alone; once a is fixed too, a's job is made, b's not again."""
    topic, dead = create_topic(unique("orders")), create_topic(unique("dead"))
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    _two_routes(config, group, topic, dead, queue, TAGGED, TAGGED)
    kcat_produce(topic, [json.dumps({"seq": 1})])
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    wait_for(lambda: len(kcat_read(dead)) == 1, 60, "one dead letter")
    assert daemon.stop() == 0, daemon.logs()

    fixed = tmp_path / "fixed.yaml"
    _two_routes(fixed, group, topic, dead, queue, TAGGED, {"type": "object"})
    only_b = karafkad("dead-letters", "redrive", "-c", str(fixed), "--route", "b")
    assert only_b.returncode == 0, only_b.stderr
    assert ("1 dead letter became 1 job; 0 already re-driven before; 0 repeats of an earlier dead letter of the "
            "same message; 0 still failing (kept)") in only_b.stdout
    b_jobs = [f"{job_prefix(group, topic, 'b')}-0-0-d0_0"]
    assert job_ids(queue) == b_jobs

    listed = karafkad("dead-letters", "list", "-c", str(fixed))
    assert listed.returncode == 0, listed.stderr
    (row,) = [line for line in listed.stdout.splitlines() if f"{dead}[0]@0" in line]
    assert " a,b " in row and " a fails, b done " in row

    every = karafkad("dead-letters", "redrive", "-c", str(fixed))
    assert every.returncode == 1  # a still fails
    assert "0 dead letters became 0 jobs; 1 already re-driven before; 0 repeats" in every.stdout
    assert "; 1 still failing (kept)" in every.stdout
    assert f"still failing, kept: {dead}[0]@0 (route a of a,b): schema: " in every.stderr
    assert job_ids(queue) == b_jobs

    _two_routes(fixed, group, topic, dead, queue, {"type": "object"}, {"type": "object"})
    last = karafkad("dead-letters", "redrive", "-c", str(fixed))
    assert last.returncode == 0, last.stderr
    assert "1 dead letter became 1 job; 0 already re-driven before; 0 repeats" in last.stdout
    assert sorted(job_ids(queue)) == sorted([*b_jobs, f"{job_prefix(group, topic, 'a')}-0-0-d0_0"])


def _dead_letter(dead: str, group: str, topic: str, origin: int) -> None:
    """A dead letter as karafkad writes one, of route strict and the message topic[0]@origin."""
    headers = {"error": "schema", "error_kind": "schema", "route": "strict", "group": group, "original_topic": topic,
               "original_partition": "0", "original_offset": str(origin)}
    kcat_produce(dead, [json.dumps({"id": f"x{origin}"})],
                 extra=[a for k, v in headers.items() for a in ("-H", f"karafkad.{k}={v}")])


def test_dead_letters_an_earlier_version_redrove_are_not_redriven_again_nor_their_repeats(tmp_path: Path) -> None:
    """The mark earlier versions set (by the dead letter's place) still counts, and the message it stands for is
    marked the new way, so a repeat of it read in a later run alone is not re-driven either."""
    topic, old, replayed = create_topic(unique("orders")), create_topic(unique("dead")), create_topic(unique("dead"))
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    _write(config, group, topic, old, queue, FIXED)
    for dead, origin in ((old, 0), (old, 1), (replayed, 0), (replayed, 1)):
        _dead_letter(dead, group, topic, origin)
    done_before = done_key(group, old, 0, OLD_REDRIVE_STREAM)  # old@0 re-driven by an earlier version
    redis_client().hset(done_before, "0", "1")
    redis_client().expire(done_before, 3600)

    both = karafkad("dead-letters", "redrive", "-c", str(config), "--topic", old, "--topic", replayed)
    assert both.returncode == 0, both.stderr
    assert "1 dead letter became 1 job; 1 already re-driven before; 2 repeats" in both.stdout
    alone = karafkad("dead-letters", "redrive", "-c", str(config), "--topic", replayed)
    assert "0 dead letters became 0 jobs; 2 already re-driven before; 0 repeats" in alone.stdout
    assert job_ids(queue) == [f"{job_prefix(group, topic, 'strict')}-0-1-d0_1"]


def test_an_unknown_route_or_topic_is_an_error_with_the_names_there_are(tmp_path: Path) -> None:
    """A misspelt --route or --topic: exit 1 naming what the routes file has, not "0 dead letters shown"."""
    topic, dead = create_topic(unique("orders")), create_topic(unique("dead"))
    config = tmp_path / "routes.yaml"
    _write(config, unique("g"), topic, dead, unique("q"), STRICT)
    route = karafkad("dead-letters", "redrive", "-c", str(config), "--route", "strikt")
    assert route.returncode == 1 and route.stdout == ""
    assert "no route 'strikt' (did you mean 'strict'?)" in route.stderr and "strict" in route.stderr
    misspelt = dead.replace("dead", "daed")
    listed = karafkad("dead-letters", "list", "-c", str(config), "--topic", misspelt)
    assert listed.returncode == 1 and listed.stdout == ""
    assert f"topic {misspelt!r} (did you mean {dead!r}?) does not exist" in listed.stderr
