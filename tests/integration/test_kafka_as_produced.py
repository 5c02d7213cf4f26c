"""Topics written the way production producers write them: compressed batches and transactions.

Compressed batches come from kcat (librdkafka, a client this project did not
write); transactions from kafka-python's transactional producer. The checks
are by job id against what the topic holds, read back with kcat.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from harness import (
    BIN,
    BOOTSTRAP,
    Daemon,
    assert_exactly_once,
    committed_offsets,
    create_topic,
    end_offsets,
    job_ids,
    kcat_produce,
    kcat_read,
    routes_yaml,
    unique,
    wait_for,
    wait_until_consumed,
)
from kafka import KafkaProducer


def _routes(tmp_path: Path, group: str, topic: str, queue: str, **options: object) -> Path:
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {**options, "routes": [
        {"topic": topic, "handler": "effects.record", "queue": queue}]}}))
    return config


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_batches_compressed_by_kcat_and_karafkad_produce_become_one_job_each(tmp_path: Path, codec: str) -> None:
    """Each message of a batch compressed with the codec, by kcat on one partition and by `karafkad produce -z`
    on the other, is exactly one job; commits reach the end."""
    topic = create_topic(unique(f"z-{codec}"), partitions=2)
    group, queue = unique("g"), unique("q")
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(300)], partition=0,
                 extra=["-z", codec, "-X", "linger.ms=50"])
    lines = tmp_path / "lines.jsonl"
    lines.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(300, 600)))
    produced = subprocess.run([str(BIN / "karafkad"), "produce", "-b", BOOTSTRAP, "-t", topic, "-p", "1",
                               "-z", codec, str(lines)], capture_output=True, text=True, timeout=120)
    assert produced.returncode == 0, produced.stderr
    daemon = Daemon(_routes(tmp_path, group, topic, queue)).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    assert assert_exactly_once(topic, group, queue) == 600
    assert daemon.stop() == 0, daemon.logs()


def test_a_batch_the_client_cannot_read_holds_only_its_partition(tmp_path: Path) -> None:
    """Without lz4 (a stub makes kafka-python find none), an lz4 batch holds its partition: one clear error,
    a metric and the status page say so; the other partition is consumed; no restart loop."""
    stub = tmp_path / "no-lz4" / "lz4"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('lz4 deliberately missing for this test')\n")
    env = {"PYTHONPATH": str(stub.parent)}
    topic = create_topic(unique("mixed"), partitions=2)
    group, queue = unique("g"), unique("q")
    config = _routes(tmp_path, group, topic, queue)
    check = subprocess.run([str(BIN / "karafkad"), "check", "-c", str(config)], capture_output=True, text=True,
                           env={**os.environ, **env}, timeout=60)
    assert "NOT lz4 (pip install lz4)" in check.stdout, check.stdout

    kcat_produce(topic, [json.dumps({"n": n}) for n in range(50)], partition=0, extra=["-z", "lz4"])
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(50, 100)], partition=1)
    daemon = Daemon(config, env=env).start().wait_ready()
    wait_for(lambda: committed_offsets(group, topic).get(1) == end_offsets(topic)[1], 60,
             "the readable partition is consumed")
    wait_for(lambda: daemon.metric("karafkad_held_partitions", topic=topic, partition="0") == 1, 30,
             "the unreadable partition is held")
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(100, 120)], partition=1)
    wait_for(lambda: committed_offsets(group, topic).get(1) == end_offsets(topic)[1], 60,
             "the readable partition goes on being consumed")

    assert committed_offsets(group, topic).get(0, 0) == 0  # nothing of the held partition is committed
    assert daemon.metric("karafkad_unreadable_batches_total", topic=topic) == 1  # once: no loop
    status = json.loads(daemon.get("/status.json")[1])
    held = [h for info in status["groups"].values() for t in info["threads"] for h in t["held"]]
    assert held == [{"partition": f"{topic}[0]", "offset": 0, "error": held[0]["error"]}]
    assert "lz4" in held[0]["error"]
    assert "held" in daemon.get("/")[1]
    errors = [e for e in daemon.events() if e.get("event", "").startswith("a fetched batch cannot be read")]
    assert len(errors) == 1 and errors[0]["partition"] == 0, daemon.logs()
    assert "consumer failed" not in daemon.logs() and "Traceback" not in daemon.logs()
    assert daemon.stop() == 0, daemon.logs()
    assert len(job_ids(queue)) == 70


def _transactional_producer() -> KafkaProducer:
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, transactional_id=unique("tx"), linger_ms=5)
    producer.init_transactions()
    return producer


def test_only_committed_transactions_become_jobs_and_lag_reaches_zero(tmp_path: Path) -> None:
    """Committed and aborted transactions interleaved on every partition: exactly the committed messages become
    jobs, and each partition's committed offset reaches its log end past the final commit marker."""
    topic = create_topic(unique("tx"), partitions=3)
    group, queue = unique("g"), unique("q")
    producer = _transactional_producer()
    sent = {"committed": 0, "aborted": 0}
    n = 0
    for round_ in range(12):
        producer.begin_transaction()
        for _ in range(30):
            producer.send(topic, json.dumps({"n": n}).encode(), partition=n % 3)
            n += 1
        producer.flush()  # in the log before the marker: an abort would otherwise drop unsent batches
        if round_ % 3 == 1:
            producer.abort_transaction()
            sent["aborted"] += 30
        else:
            producer.commit_transaction()
            sent["committed"] += 30
    producer.close()
    assert len(kcat_read(topic, "%s\\n")) == sent["committed"]  # kcat reads committed only, like the daemon
    raw = subprocess.run(["kcat", "-C", "-b", BOOTSTRAP, "-t", topic, "-e", "-q", "-X",
                          "isolation.level=read_uncommitted"], capture_output=True, timeout=60, check=True)
    assert len(raw.stdout.splitlines()) == sent["committed"] + sent["aborted"]  # the aborted ones are there

    daemon = Daemon(_routes(tmp_path, group, topic, queue)).start().wait_ready()
    wait_until_consumed(daemon, topic, group)  # to the log end: past every commit marker
    assert assert_exactly_once(topic, group, queue) == sent["committed"]
    wait_for(lambda: daemon.metric("karafkad_consumer_lag", group=group) == 0
             and len([line for line in daemon.get("/metrics")[1].splitlines()
                      if line.startswith("karafkad_consumer_lag{") and group in line]) == 3,
             15, "every partition reports lag 0")
    assert daemon.stop() == 0, daemon.logs()


def test_an_open_transaction_holds_its_messages_until_it_commits(tmp_path: Path) -> None:
    """read_committed: messages of a transaction still open are not jobs yet and not lag (they cannot be
    consumed); its commit releases them, each as one job."""
    topic = create_topic(unique("open-tx"), partitions=1)
    group, queue = unique("g"), unique("q")
    daemon = Daemon(_routes(tmp_path, group, topic, queue)).start().wait_ready()
    producer = _transactional_producer()
    producer.begin_transaction()
    for n in range(20):
        producer.send(topic, json.dumps({"n": n}).encode())
    producer.flush()
    kcat_produce(topic, [json.dumps({"n": 1000})])  # after the open transaction: held back behind it too
    wait_for(lambda: end_offsets(topic)[0] == 21, 30, "the open transaction's messages are in the log")
    wait_for(lambda: daemon.metric("karafkad_consumer_lag", group=group, partition="0") == 0
             and "karafkad_consumer_lag{" in daemon.get("/metrics")[1], 15, "the lag gauge is set")
    assert job_ids(queue) == []

    producer.commit_transaction()
    producer.close()
    wait_until_consumed(daemon, topic, group)
    assert assert_exactly_once(topic, group, queue) == 21
    assert daemon.stop() == 0, daemon.logs()


def test_read_uncommitted_is_there_for_who_asks(tmp_path: Path) -> None:
    """isolation_level: read_uncommitted makes the aborted messages jobs too (routes.yaml says so on purpose)."""
    topic = create_topic(unique("dirty"), partitions=1)
    group, queue = unique("g"), unique("q")
    producer = _transactional_producer()
    producer.begin_transaction()
    for n in range(10):
        producer.send(topic, json.dumps({"n": n}).encode())
    producer.flush()
    producer.abort_transaction()
    producer.close()
    daemon = Daemon(_routes(tmp_path, group, topic, queue, isolation_level="read_uncommitted")).start().wait_ready()
    wait_until_consumed(daemon, topic, group)
    assert len(job_ids(queue)) == 10
    assert daemon.stop() == 0, daemon.logs()

