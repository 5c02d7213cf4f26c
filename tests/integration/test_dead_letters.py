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
    job_prefix,
    karafkad,
    kcat_produce,
    kcat_read,
    queued_job_ids,
    routes_yaml,
    unique,
    wait_for,
    wait_until_consumed,
)

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
    lenient_before = [i for i in queued_job_ids(queue) if i.startswith(job_prefix(group, topic, "lenient"))]
    assert len(lenient_before) == 31

    listed = karafkad("dead-letters", "list", "-c", str(config), "--kind", "schema")
    assert listed.returncode == 0, listed.stderr
    assert "11 dead letters shown" in listed.stdout and listed.stdout.count(" strict ") >= 11
    assert f"{topic}[" in listed.stdout and '{"id": "x20", "n": 20}' in listed.stdout

    _write(config, group, topic, dead, queue, FIXED)
    first = karafkad("dead-letters", "redrive", "-c", str(config))
    assert first.returncode == 1  # one still fails
    assert "10 dead letters became 10 jobs; 0 already re-driven before; 1 still failing (kept)" in first.stdout
    assert "still failing, kept:" in first.stderr and '"id" is a required property' in first.stderr
    strict_jobs = [i for i in queued_job_ids(queue) if i.startswith(job_prefix(group, topic, "strict") + "-")]
    redriven = [i for i in strict_jobs if "-d" in i.rsplit("-", 1)[1] or "_" in i.rsplit("-", 1)[1]]
    assert len(redriven) == 10 and len(set(redriven)) == 10
    assert [i for i in queued_job_ids(queue) if i.startswith(job_prefix(group, topic, "lenient"))] == lenient_before

    again = karafkad("dead-letters", "redrive", "-c", str(config))
    assert "0 dead letters became 0 jobs; 10 already re-driven before; 1 still failing" in again.stdout
    assert len(queued_job_ids(queue)) == 31 + 20 + 10
    assert len(kcat_read(dead)) == 11  # nothing is taken out of the dead-letter topic


def test_an_interrupted_redrive_run_again_enqueues_each_dead_letter_once(tmp_path: Path) -> None:
    """Half re-driven (the run was cut short: here by choosing part), then all: the first half is not repeated."""
    topic, dead = create_topic(unique("orders")), create_topic(unique("dead"))
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    _write(config, group, topic, dead, queue, STRICT)
    kcat_produce(topic, [json.dumps({"id": f"x{n}", "n": n}) for n in range(6)])
    daemon = Daemon(config).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    wait_for(lambda: len(kcat_read(dead)) == 6, 60, "6 dead letters")
    assert daemon.stop() == 0, daemon.logs()
    _write(config, group, topic, dead, queue, FIXED)
    cut = kcat_read(dead, "%T\\n")[3]  # the dead-letter timestamp of the fourth
    partial = karafkad("dead-letters", "redrive", "-c", str(config), "--until", cut)
    assert partial.returncode == 0, partial.stderr
    rest = karafkad("dead-letters", "redrive", "-c", str(config))
    assert rest.returncode == 0, rest.stderr
    done_first = int(partial.stdout.split(" dead letter")[0])
    assert f"{6 - done_first} dead letters became {6 - done_first} jobs; {done_first} already" in rest.stdout
    redriven = [i for i in queued_job_ids(queue) if i.startswith(job_prefix(group, topic, "strict"))]
    assert len(redriven) == len(set(redriven)) == 6
