"""The first vertical slice: kcat -> karafkad -> Redis -> a stock rq worker -> the handler, once each."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from harness import (
    Daemon,
    committed_offsets,
    committed_to_end,
    create_topic,
    effects,
    end_offsets,
    kcat_produce,
    routes_yaml,
    rq_worker_burst,
    unique,
    wait_for,
)


def test_each_message_runs_its_handler_exactly_once(tmp_path: Path) -> None:
    """Every produced message becomes one job that a stock rq worker runs once; offsets end fully committed."""
    topic = create_topic(unique("orders"), partitions=3)
    group = unique("billing")
    queue = unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"threads": 2, "routes": [
        {"topic": topic, "handler": "effects.record", "queue": queue}]}}))
    messages = [json.dumps({"n": n, "total": n * 10}) for n in range(1, 301)]
    kcat_produce(topic, messages[:150])

    daemon = Daemon(config).start().wait_ready()
    kcat_produce(topic, messages[150:])  # some before start, some while running
    wait_for(lambda: daemon.metric("karafkad_jobs_enqueued_total") >= 300, 60, "300 jobs are enqueued")
    assert daemon.stop() == 0, daemon.logs()

    worker = rq_worker_burst(queue)
    assert worker.returncode == 0, worker.stderr
    assert effects() == dict.fromkeys(range(1, 301), 1)
    assert committed_to_end(group, topic), (committed_offsets(group, topic), end_offsets(topic))


def test_sigint_stops_the_daemon_cleanly(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) drains and exits 0 after leaving the group."""
    topic = create_topic(unique("t"))
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({unique("g"): {"routes": [{"topic": topic, "handler": "effects.record"}]}}))
    daemon = Daemon(config).start().wait_ready()
    daemon.signal(signal.SIGINT)
    assert daemon.wait(30) == 0, daemon.logs()
    assert any(e.get("event") == "stopped cleanly" for e in daemon.events())
