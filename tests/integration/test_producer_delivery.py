"""karafkad.producer and `karafkad produce` against the real broker; every message is read back with kcat."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest
from harness import BIN, BOOTSTRAP, KAFKA_PORT, create_topic, kcat_read, routes_yaml, unique, wait_for
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from karafkad.producer import ProduceError, Producer

SASL_BOOTSTRAP = f"127.0.0.1:{KAFKA_PORT + 2}"
"""The broker's SASL_PLAINTEXT listener (scripts/kafka), with the SCRAM user karafkad / karafkad-secret."""


def _small_topic(max_bytes: int = 1000) -> str:
    """A topic whose broker-side limit (max.message.bytes) refuses bigger messages."""
    name = unique("small")
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, client_id="karafkad-tests")
    try:
        admin.create_topics([NewTopic(name, 1, 1, topic_configs={"max.message.bytes": str(max_bytes)})])
    finally:
        admin.close()
    wait_for(lambda: _exists(name), 30, f"topic {name} exists")
    return name


def _exists(topic: str) -> bool:
    result = subprocess.run(["kcat", "-L", "-b", BOOTSTRAP, "-t", topic], capture_output=True, text=True,
                            timeout=30)
    return result.returncode == 0 and "err" not in result.stdout.split(f'topic "{topic}"', 1)[-1].split("\n")[0]


def _routes_file(tmp_path: Path, **kafka: object) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(routes_yaml({unique("g"): {"routes": [{"topic": "unused", "handler": "effects.record"}]}},
                                extra={"kafka": kafka} if kafka else None))
    return path


def test_sent_messages_arrive_with_their_keys_headers_and_exact_values() -> None:
    """send_json and send (text, bytes) wait for the ack and return the offset; kcat reads exactly what was sent."""
    topic = create_topic(unique("p"))
    with Producer(bootstrap_servers=BOOTSTRAP, timeout=20) as producer:
        first = producer.send_json(topic, {"id": 1, "name": "Zoë", "big": 2**70}, key="c1",
                                   headers={"trace": "t-1", "source": "shop"})
        second = producer.send(topic, "plain text", key=b"c2")
        third = producer.send(topic, b"\x00raw", headers=[("h", b"1"), ("h", b"2")])
    assert (first.topic, first.partition, first.offset, second.offset, third.offset) == (topic, 0, 0, 1, 2)
    lines = kcat_read(topic, "%o|%k|%h|%s\\n")
    assert lines[0] == f'0|c1|trace=t-1,source=shop|{{"id":1,"name":"Zoë","big":{2**70}}}'
    assert lines[1] == "1|c2||plain text"
    assert lines[2] == "2||h=1,h=2|\\x00raw" or lines[2] == "2||h=1,h=2|\x00raw"


def test_buffered_messages_all_arrive_in_order_after_flush() -> None:
    """buffer returns at once; after flush every message is in the topic, in order."""
    topic = create_topic(unique("p"))
    producer = Producer(bootstrap_servers=BOOTSTRAP, timeout=20)
    for n in range(500):
        producer.buffer_json(topic, {"n": n}, key="same-key", label=n)
    producer.flush()
    producer.close()
    assert [json.loads(line)["n"] for line in kcat_read(topic)] == list(range(500))


def test_a_message_the_broker_refuses_is_raised_by_send_and_by_flush() -> None:
    """A message over the topic's max.message.bytes: send raises ProduceError; buffered, flush raises naming it."""
    topic = _small_topic()
    producer = Producer(bootstrap_servers=BOOTSTRAP, timeout=20)
    with pytest.raises(ProduceError, match=r"MessageSizeTooLargeError"):
        producer.send(topic, b"x" * 3000, key="too-big")
    producer.buffer(topic, b"y" * 3000, label="line 7")
    with pytest.raises(ProduceError) as caught:
        producer.flush()
    assert [(f.label, f.error.split(":")[0]) for f in caught.value.failures] == [("line 7", "MessageSizeTooLargeError")]
    producer.send(topic, b"fits")
    producer.close()
    assert kcat_read(topic) == ["fits"]


def test_a_producer_from_a_routes_file_uses_its_sasl_settings(tmp_path: Path) -> None:
    """from_config takes the routes file's kafka section (SCRAM over SASL_PLAINTEXT, password from ${VAR})."""
    topic = create_topic(unique("p"))
    routes = _routes_file(tmp_path, bootstrap_servers=SASL_BOOTSTRAP, security_protocol="SASL_PLAINTEXT",
                          sasl_mechanism="SCRAM-SHA-256", sasl_plain_username="karafkad",
                          sasl_plain_password="${KAFKA_PASSWORD}")
    with Producer.from_config(routes, environ={"KAFKA_PASSWORD": "karafkad-secret"}, timeout=20) as producer:
        assert producer.settings.security["sasl_plain_password"].reveal() == "karafkad-secret"
        producer.send_json(topic, {"over": "sasl"})
    assert kcat_read(topic) == ['{"over":"sasl"}']
    wrong = Producer.from_config(routes, environ={"KAFKA_PASSWORD": "wrong"}, timeout=5)
    with pytest.raises(ProduceError, match="cannot connect to Kafka") as caught:
        wrong.send(topic, b"x")
    assert "wrong" not in str(caught.value)


def test_karafkad_produce_sends_each_line_of_a_file_as_it_is(tmp_path: Path) -> None:
    """`karafkad produce -c routes.yaml` sends one message per non-blank line, JSON text unchanged, with key and
    headers; it prints a summary and exits 0."""
    topic = create_topic(unique("p"))
    lines = ['{"id": 1,  "spaced":  true}', "", '{"id": 2, "name": "Zoë"}', "not json is fine without --json"]
    source = tmp_path / "orders.jsonl"
    source.write_text("\n".join(lines) + "\n")
    result = subprocess.run([str(BIN / "karafkad"), "produce", "-c", str(_routes_file(tmp_path)), "-t", topic,
                             "-k", "batch-1", "-H", "origin=file", str(source)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"3 messages sent to '{topic}' in ")
    assert "1 blank line skipped" in result.stdout
    assert kcat_read(topic, "%k|%h|%s\\n") == [f"batch-1|origin=file|{line}" for line in lines if line]


def test_karafkad_produce_json_mode_names_bad_lines_sends_the_rest_and_fails(tmp_path: Path) -> None:
    """--json: a line that is not JSON is listed with its number and not sent; the exit status is 1."""
    topic = create_topic(unique("p"))
    result = subprocess.run([str(BIN / "karafkad"), "produce", "-b", BOOTSTRAP, "-t", topic, "--json"],
                            input='{"n": 1}\n{"n": 2,\n{"n": 3}\n', capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("line 2: invalid JSON")
    assert "2 messages sent" in result.stdout and "1 line NOT sent" in result.stdout
    assert kcat_read(topic) == ['{"n": 1}', '{"n": 3}']


def test_karafkad_produce_reports_refused_lines_by_number(tmp_path: Path) -> None:
    """A line the broker refuses is named by number, exit 1; every other line is either delivered or named too
    (a refused message can take the rest of its batch with it), never both, never neither."""
    topic = _small_topic()
    lines = ["small", "x" * 3000, "small again", "last"]
    source = tmp_path / "mixed.txt"
    source.write_text("\n".join(lines) + "\n")
    result = subprocess.run([str(BIN / "karafkad"), "produce", "-b", BOOTSTRAP, "-t", topic, str(source)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "line 2: MessageSizeTooLargeError" in result.stderr
    named = {int(line.split(":")[0][5:]) for line in result.stderr.splitlines() if line.startswith("line ")}
    delivered = kcat_read(topic)
    for number, line in enumerate(lines, 1):
        assert (line in delivered) != (number in named), (number, delivered, result.stderr)
    assert f"{len(delivered)} message" in result.stdout and f"{len(named)} line" in result.stdout


def test_karafkad_produce_shows_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """Reading a file with stderr on a terminal draws a bar that ends at 100%; the messages all arrive."""
    topic = create_topic(unique("p"))
    source = tmp_path / "many.jsonl"
    source.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(3000)))
    leader, follower = pty.openpty()
    proc = subprocess.Popen([str(BIN / "karafkad"), "produce", "-b", BOOTSTRAP, "-t", topic, str(source)],
                            stdout=subprocess.PIPE, stderr=follower, env={**os.environ, "TERM": "dumb"})
    os.close(follower)
    drawn = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: karafkad exited
                break
            if not chunk:
                break
            drawn += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    assert proc.wait(60) == 0
    bar = drawn.decode()
    assert bar.startswith("\r[") and "] 100%  3,000 lines" in bar, bar[-200:]
    assert len(kcat_read(topic)) == 3000
