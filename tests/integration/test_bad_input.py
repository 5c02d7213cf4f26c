"""Hostile and broken messages at volume, mixed into good ones: each gets its answer, nothing stalls.

Every bad message is dead-lettered with its reason (or skipped and counted,
on a route that says so); every good one is enqueued; the daemon's memory
stays bounded and it keeps consuming.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness import (
    BOOTSTRAP,
    Daemon,
    create_topic,
    job_ids,
    kcat_produce,
    kcat_read,
    routes_yaml,
    unique,
    wait_until_consumed,
)

SCHEMA = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}

# (name, value bytes or None, expected outcome: "job" or the dead-letter kind)
CORPUS: list[tuple[str, bytes | None, str]] = [
    ("invalid JSON", b'{"n": 1,', "decode"),
    ("not UTF-8", b'{"n": "\xff\xfe"}', "decode"),
    ("empty value", b"", "decode"),
    ("tombstone", None, "tombstone"),
    ("oversize (6 MB)", b'{"n": 1, "pad": "' + b"x" * (6 * 1024 * 1024) + b'"}', "oversize"),
    ("100k-deep nesting", b"[" * 100_000 + b"]" * 100_000, "decode"),
    ("100k-deep nesting with long digits", b"[" * 100_000 + b"1234567890123456789012" + b"]" * 100_000, "decode"),
    ("wrong type", b'{"n": "seven"}', "schema"),
    ("float for an integer", b'{"n": 1.5}', "schema"),
    ("number too large for a double", b'{"n": 1e400}', "decode"),
    ("integer of 10000 digits", b'{"n": ' + b"9" * 10_000 + b"}", "decode"),
    ("NaN", b'{"n": NaN}', "decode"),
    ("UTF-8 BOM", b'\xef\xbb\xbf{"n": 3}', "decode"),
    ("binary junk", bytes(range(256)) * 4, "decode"),
    ("a JSON string, not an object", b'"n"', "schema"),
    ("good: 30-digit integer kept exact", b'{"n": 123456789012345678901234567890}', "job"),
    ("good: duplicate keys, the last one wins", b'{"n": "x", "n": 4}', "job"),
    ("good: unicode", '{"n": 5, "name": "Zoë ☃ 𝄞"}'.encode(), "job"),
]


def _produce_raw(topic: str, value: bytes | None, *, key: bytes = b"k", headers: list[bytes] = ()) -> None:
    """One message with exact bytes, through kcat (-Z: empty value means NULL)."""
    args = ["kcat", "-P", "-b", BOOTSTRAP, "-t", topic, "-X", "acks=all", "-X", "message.max.bytes=10000000",
            "-K", "\t"]
    for header in headers:
        args += ["-H", header]  # type: ignore[list-item]
    if value is None:
        args.append("-Z")
        value = b""
    # kcat splits input on newlines; values here have none except the binary junk, sent with -D.
    payload = key + b"\t" + value
    subprocess.run([*args, "-D", "<<END-OF-MESSAGE>>"], input=payload, check=True, timeout=60, capture_output=True)


def test_bad_input_at_volume_is_dead_lettered_and_good_input_enqueued(tmp_path: Path) -> None:
    """The corpus, repeated and mixed with good messages: the right outcome for each, no stall, bounded memory."""
    topic = create_topic(unique("mixed"))
    dead = create_topic(unique("dead"))
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [
        {"topic": topic, "handler": "effects.record", "queue": queue, "schema": SCHEMA, "dead_letter": dead,
         "tombstone": "dead_letter"}]}}))
    daemon = Daemon(config).start().wait_ready()
    expected: list[str] = []
    for round_ in range(3):
        kcat_produce(topic, [json.dumps({"n": 1000 * round_ + i}) for i in range(200)])
        expected += ["job"] * 200
        for _, value, outcome in CORPUS:
            _produce_raw(topic, value)
            expected.append(outcome)
    _produce_raw(topic, b'{"n": 9}', headers=[b"\xff\xfejunk-key=v"])
    expected.append("headers")
    _produce_raw(topic, b'{"n": 10}', key=b"\x00\xff\x80binary-key", headers=[b"trace=\xff\x01"])
    expected.append("job")  # binary keys and header values are bytes by protocol: fine
    kcat_produce(topic, [json.dumps({"n": 99_999})])
    expected.append("job")

    wait_until_consumed(daemon, topic, group, timeout=180)
    rss_kb = int(next(line.split()[1] for line in Path(f"/proc/{daemon.proc.pid}/status").read_text().splitlines()
                      if line.startswith("VmHWM")))  # type: ignore[union-attr]
    assert daemon.stop() == 0, daemon.logs()

    letters = kcat_read(dead, "%o\\t%h\\n", timeout=120)
    kinds = [line.split("karafkad.error_kind=")[1].split(",")[0] for line in letters]
    want_kinds = [e for e in expected if e != "job"]
    assert sorted(kinds) == sorted(want_kinds)
    assert all("karafkad.error=" in line for line in letters)
    assert any("header key is not UTF-8" in line for line in letters)
    assert len(job_ids(queue)) == expected.count("job")
    assert rss_kb < 400 * 1024, f"peak RSS {rss_kb} kB"


def test_a_junk_header_key_neither_stalls_the_consumer_nor_is_lost(tmp_path: Path) -> None:
    """A non-UTF-8 header key is dead-lettered (key escaped as \\xNN text); the next message is enqueued."""
    topic = create_topic(unique("junk"))
    dead = create_topic(unique("dead"))
    group, queue = unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [
        {"topic": topic, "handler": "effects.record", "queue": queue, "dead_letter": dead}]}}))
    daemon = Daemon(config).start().wait_ready()
    _produce_raw(topic, b'{"n": 1}', headers=[b"\xff\xfekey=value"])
    kcat_produce(topic, [json.dumps({"n": 2})])
    wait_until_consumed(daemon, topic, group)
    assert daemon.stop() == 0
    raw = subprocess.run(["kcat", "-C", "-b", BOOTSTRAP, "-t", dead, "-e", "-q", "-f", "%h"], check=True,
                         capture_output=True, timeout=60).stdout
    assert raw.startswith(b"\\xff\\xfekey=value"), raw[:40]
    assert len(job_ids(queue)) == 1
