"""One trace from the producer to the handler (issue 21), checked in what a real OpenTelemetry Collector received.

The incoming context is made by producers karafkad did not write: OpenTelemetry's own kafka-python
instrumentation in a traced application (traced_producer.py), and kcat with a traceparent header. karafkad and
`karafkad worker` export to the collector as the standard OTEL_* variables say; the handler
(tests/fixtures/handlers/traced.py) opens a span of its own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from collector import Collector, Span, new_context
from harness import (
    BOOTSTRAP,
    EFFECTS_ENV,
    RUNNING,
    Daemon,
    create_topic,
    free_port,
    job_ids,
    karafkad,
    kcat_produce,
    kcat_read,
    redis_client,
    routes_yaml,
    unique,
    wait_for,
)

from karafkad.store.keys import job_key

STRICT = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
LOOSE = {"type": "object", "required": ["n"]}
CONSUMER = 5


@pytest.fixture(scope="module")
def collector() -> Collector:
    return Collector().start()


class Setup:
    """One daemon, tracing on, for the module: a route per test, each on its own topic and queue."""

    def __init__(self, tmp: Path, collector: Collector) -> None:
        self.collector = collector
        self.group = unique("traced")
        self.topics = {name: create_topic(unique(name)) for name in ("e2e", "strict", "plain")}
        self.queues = {name: unique(name) for name in self.topics}
        self.dead_letter = create_topic(unique("strict-dlq"))
        self.config = tmp / "routes.yaml"
        self.write(self.config, STRICT)
        self.daemon = Daemon(self.config, env=collector.environment()).start()
        RUNNING.remove(self.daemon)  # the module's, not one test's: the fixture below stops it
        try:
            self.daemon.wait_ready()
        except BaseException:
            self.daemon.kill()
            raise

    def write(self, path: Path, schema: dict[str, Any]) -> None:
        path.write_text(routes_yaml({self.group: {"routes": [
            {"name": name, "topic": topic, "handler": "traced.charge", "queue": self.queues[name], "schema": schema,
             "dead_letter": self.dead_letter} for name, topic in self.topics.items()]}}))

    def worker(self, queue: str) -> None:
        """`karafkad worker --burst` on `queue`, tracing on (work horses forked per job, as by default)."""
        result = karafkad("worker", "-c", self.config, "--burst", queue,
                          env={**EFFECTS_ENV, **self.collector.environment()})
        assert result.returncode == 0, result.stderr

    def jobs(self, name: str, count: int) -> list[str]:
        wait_for(lambda: len(job_ids(self.queues[name])) >= count, 30, f"{count} jobs on {self.queues[name]}")
        return job_ids(self.queues[name])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, collector: Collector) -> Iterator[Setup]:
    made = Setup(tmp_path_factory.mktemp("tracing"), collector)
    try:
        yield made
    finally:
        code = made.daemon.stop()
    assert code == 0, made.daemon.logs()[-3000:]


def _meta(job_id: str) -> dict[str, Any] | None:
    raw = redis_client().hget(job_key(job_id), "meta")
    return None if raw is None else dict(json.loads(raw))


def _one(spans: list[Span], **attributes: Any) -> Span:
    found = [s for s in spans if all(s.attributes.get(k) == v for k, v in attributes.items())]
    assert len(found) == 1, f"{attributes}: {found}"
    return found[0]


def test_one_trace_from_a_traced_producer_through_karafkad_and_the_worker_to_the_handler(setup: Setup) -> None:
    """checkout (the application) -> its kafka-python instrumentation's send span -> karafkad's `process TOPIC`
    span -> the worker's `process QUEUE` span -> the handler's `charge` span: one trace id, each the child of the
    one before, as the collector received them."""
    topic = setup.topics["e2e"]
    produced = subprocess.run([sys.executable, str(Path(__file__).with_name("traced_producer.py")), BOOTSTRAP, topic,
                               '{"n": 1}'], env={**os.environ, **setup.collector.environment()},
                              capture_output=True, text=True, timeout=60, check=True)
    ids = json.loads(produced.stdout)
    trace_id = ids["trace_id"]
    (job_id,) = setup.jobs("e2e", 1)
    spans = setup.collector.wait_for(trace_id, 3)
    send = _one(spans, **{"messaging.destination": topic})
    assert send.parent_id == ids["span_id"] and send.service == "checkout-service"
    ours = _one(spans, **{"karafkad.route": "e2e"})
    assert ours.parent_id == send.span_id and ours.name == f"process {topic}" and ours.kind == CONSUMER
    assert ours.service == "karafkad" and ours.attributes["karafkad.outcome"] == "enqueue"
    assert ours.attributes["messaging.system"] == "kafka" and ours.attributes["messaging.kafka.offset"] == 0
    assert ours.attributes["messaging.consumer.group.name"] == setup.group
    assert ours.attributes["karafkad.job.id"] == job_id
    meta = _meta(job_id)
    assert meta is not None and meta["traceparent"][:52] == f"00-{trace_id}-{ours.span_id}"  # (flags: the span's)

    setup.worker(setup.queues["e2e"])
    spans = setup.collector.wait_for(trace_id, 5)
    job = _one(spans, **{"messaging.message.id": job_id})
    assert job.parent_id == ours.span_id and job.name == f"process {setup.queues['e2e']}" and job.kind == CONSUMER
    assert job.service == "karafkad-worker"
    (charge,) = [s for s in spans if s.name == "charge"]
    assert charge.parent_id == job.span_id
    assert redis_client().hget("effects:traced", "1") == f"{trace_id}-{charge.span_id}".encode()


def test_a_dead_letter_keeps_its_trace_and_its_re_drive_continues_it(setup: Setup, tmp_path: Path) -> None:
    """A message the schema rejects: karafkad's span says reject (an error, with the reason); the dead letter keeps
    the trace headers; re-driven after the schema is fixed, its job carries the same trace on, into the worker."""
    traceparent, trace_id, parent = new_context()
    kcat_produce(setup.topics["strict"], ['{"n": "one"}'], extra=["-H", f"traceparent={traceparent}",
                                                                  "-H", "tracestate=shop=eu"])
    (ours,) = setup.collector.wait_for(trace_id, 1)
    assert ours.parent_id == parent and ours.attributes["karafkad.outcome"] == "reject"
    assert ours.attributes["karafkad.outcome.reason"].startswith("schema: /n:")
    assert ours.status.get("code") == 2  # STATUS_CODE_ERROR
    (letter,) = kcat_read(setup.dead_letter, "%h\\n")
    assert f"traceparent={traceparent}" in letter and "tracestate=shop=eu" in letter

    fixed = tmp_path / "fixed.yaml"
    setup.write(fixed, LOOSE)
    result = karafkad("dead-letters", "redrive", "-c", fixed, "-t", setup.dead_letter)
    assert result.returncode == 0, result.stdout + result.stderr
    (job_id,) = setup.jobs("strict", 1)
    assert _meta(job_id) == {"traceparent": traceparent, "tracestate": "shop=eu"}
    setup.worker(setup.queues["strict"])
    spans = setup.collector.wait_for(trace_id, 3)
    assert _one(spans, **{"messaging.message.id": job_id}).parent_id == parent


def test_unsampled_and_context_free_messages_make_no_span_and_carry_only_what_came(setup: Setup) -> None:
    """An unsampled context is carried as it came (also one `karafkad produce` took from TRACEPARENT), a message
    without one gets no meta; neither makes a span. A sampled message after them shows the spans are flowing."""
    topic = setup.topics["plain"]
    unsampled, unsampled_trace, _ = new_context(sampled=False)
    kcat_produce(topic, ['{"n": 1}'], extra=["-H", f"traceparent={unsampled}"])
    kcat_produce(topic, ['{"n": 2}'])
    from_cli, cli_trace, _ = new_context(sampled=False)
    result = karafkad("produce", "-c", setup.config, "-t", topic, "-", stdin='{"n": 3}\n',
                      env={"TRACEPARENT": from_cli})
    assert result.returncode == 0, result.stderr
    marker, marker_trace, _ = new_context()
    kcat_produce(topic, ['{"n": 4}'], extra=["-H", f"traceparent={marker}"])
    jobs = setup.jobs("plain", 4)
    setup.collector.wait_for(marker_trace, 1)
    assert [_meta(job) for job in jobs[:3]] == [{"traceparent": unsampled}, None, {"traceparent": from_cli}]
    assert setup.collector.trace(unsampled_trace) == [] and setup.collector.trace(cli_trace) == []
    assert [s.trace_id for s in setup.collector.spans()
            if s.attributes.get("messaging.destination.name") == topic] == [marker_trace]


class FrozenReceiver:
    """A port that takes connections and never answers (a collector that hangs)."""

    def __enter__(self) -> int:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        return int(self.socket.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.socket.close()


@pytest.mark.parametrize("receiver", ["down", "frozen"])
def test_a_receiver_down_delays_no_message_and_is_one_warning(receiver: str, tmp_path: Path) -> None:
    """Nothing listens (or nothing answers): every sampled message still becomes its job at once, the log has one
    warning about it, and the daemon drains and exits 0 within its bounds."""
    topic, queue, group = create_topic(unique("down")), unique("down"), unique("down")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [{"topic": topic, "handler": "effects.record", "queue": queue,
                                                       "on_error": "skip"}]}}))
    with FrozenReceiver() as frozen:
        port = frozen if receiver == "frozen" else free_port()
        daemon = Daemon(config, env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                                     "OTEL_BSP_SCHEDULE_DELAY": "100"}).start().wait_ready()
        traceparent, _, _ = new_context()
        started = time.monotonic()
        for batch in range(3):
            kcat_produce(topic, [json.dumps({"n": batch * 100 + i}) for i in range(100)],
                         extra=["-H", f"traceparent={traceparent}"])
            time.sleep(0.5)  # several export attempts meet the receiver
        wait_for(lambda: len(job_ids(queue)) == 300, 20, "every message is a job")
        took = time.monotonic() - started
        stopping = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
        stopped_in = time.monotonic() - stopping
    warnings = [e for e in daemon.events() if e.get("level") == "warning"]
    assert [e["event"].split(";")[0] for e in warnings] == ["cannot export spans"], warnings
    assert took < 15, f"300 messages took {took:.1f} s"
    assert stopped_in < 10, f"the drain took {stopped_in:.1f} s"


def test_the_worker_without_tracing_runs_traced_jobs_as_they_are(setup: Setup) -> None:
    """A job that carries a context runs in a worker with tracing off (no OTEL_* variables): no span, same
    effect."""
    traceparent, trace_id, _ = new_context()
    kcat_produce(setup.topics["e2e"], ['{"n": 7}'], extra=["-H", f"traceparent={traceparent}"])
    setup.jobs("e2e", 1)
    setup.collector.wait_for(trace_id, 1)
    result = karafkad("worker", "-c", setup.config, "--burst", setup.queues["e2e"], env=EFFECTS_ENV)
    assert result.returncode == 0, result.stderr
    assert redis_client().hget("effects:traced", "7") is not None
    assert len(setup.collector.trace(trace_id)) == 1  # karafkad's own; the worker exported nothing (it has exited)
