"""Topics declared in routes.yaml: `karafkad topics plan|apply` against the real broker, and the start-up check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import BOOTSTRAP, Daemon, karafkad, routes_yaml, unique, wait_for
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType


def _config(tmp_path: Path, topics: dict[str, Any], groups: dict[str, Any] | None = None,
            daemon: dict[str, Any] | None = None, file: str = "routes.yaml") -> Path:
    config = tmp_path / file
    config.write_text(routes_yaml(groups or {unique("g"): {"routes": [
        {"topic": next(iter(topics)), "handler": "effects.record"}]}},
        extra={"topics": topics, **({"daemon": daemon} if daemon else {})}))
    return config


def _described(name: str) -> tuple[int, str]:
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, client_id="karafkad-tests")
    try:
        [topic] = admin.describe_topics([name])
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name, ["retention.ms"])],
                                         config_filter="all")
    finally:
        admin.close()
    return len(topic["partitions"]), configs["topic"][name]["retention.ms"]["value"]


def test_plan_lists_creations_apply_makes_them_and_a_second_plan_is_empty(tmp_path: Path) -> None:
    """On a cluster without them: plan says create (nothing changes), apply creates with partitions and configs,
    and the next plan finds nothing to do."""
    orders, dead = unique("orders"), unique("dead")
    config = _config(tmp_path, {orders: {"partitions": 3, "config": {"retention.ms": 3600000}},
                                dead: {"partitions": 1, "replication_factor": 1}})
    plan = karafkad("topics", "plan", "-c", str(config))
    assert plan.returncode == 0, plan.stderr
    assert f"create  {orders}: 3 partitions, retention.ms=3600000" in plan.stdout
    assert f"create  {dead}: 1 partition, replication factor 1" in plan.stdout
    assert karafkad("topics", "plan", "-c", str(config)).stdout == plan.stdout  # plan changed nothing

    applied = karafkad("topics", "apply", "-c", str(config))
    assert applied.returncode == 0, applied.stderr
    assert "2 changes applied" in applied.stdout
    assert _described(orders) == (3, "3600000")
    again = karafkad("topics", "plan", "-c", str(config))
    assert again.stdout.strip() == "no changes: 2 topics as declared"


def test_partitions_are_added_and_configs_set_but_never_taken_away(tmp_path: Path) -> None:
    """More partitions and another retention are applied; fewer partitions are refused with the reason."""
    name = unique("grow")
    assert karafkad("topics", "apply", "-c", str(_config(tmp_path, {name: {"partitions": 2}}))).returncode == 0
    grown = _config(tmp_path, {name: {"partitions": 4, "config": {"retention.ms": 60000}}})
    applied = karafkad("topics", "apply", "-c", str(grown))
    assert applied.returncode == 0, applied.stderr
    assert f"add partitions  {name}: 2 -> 4" in applied.stdout and "set config" in applied.stdout
    assert _described(name) == (4, "60000")
    smaller = _config(tmp_path, {name: {"partitions": 1, "config": {"retention.ms": 60000}}}, file="plan2.yaml")
    shrink = karafkad("topics", "plan", "-c", str(smaller))
    assert shrink.returncode == 0
    # the routes file named as given, whatever it is called
    assert f"not changed  {name}: has 4 partitions, {smaller} says 1: Kafka cannot take partitions away" \
        in shrink.stdout
    assert _described(name)[0] == 4


def test_a_misspelt_config_name_is_a_problem_and_nothing_is_applied(tmp_path: Path) -> None:
    """A config name the cluster does not know, for a topic to create or one that exists: plan and apply name
    the file, line, topic and key with the name it looks like, exit 1, and change nothing."""
    name = unique("notes")
    typo = _config(tmp_path, {name: {"partitions": 1, "config": {"retention.msx": 5}}})
    for action in ("plan", "apply"):
        result = karafkad("topics", action, "-c", str(typo))
        assert result.returncode == 1, result.stdout + result.stderr
        assert "no changes" not in result.stdout, result.stdout
        assert f"{typo}:" in result.stderr and f"topics.{name}.config.retention.msx:" in result.stderr
        assert f"topic {name}: the cluster knows no topic config 'retention.msx' (did you mean 'retention.ms'?)" \
            in result.stderr
    assert "nothing applied" in result.stderr
    assert not _exists(name)

    assert karafkad("topics", "apply", "-c", str(_config(tmp_path, {name: {"partitions": 1}}))).returncode == 0
    existing = _config(tmp_path, {name: {"partitions": 1, "config": {"retention.ms": 60000, "retention.msx": 5}}})
    applied = karafkad("topics", "apply", "-c", str(existing))
    assert applied.returncode == 1 and "did you mean 'retention.ms'?" in applied.stderr
    assert _described(name)[1] != "60000"  # the valid config beside the typo was not set either


def _exists(name: str) -> bool:
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, client_id="karafkad-tests")
    try:
        return name in admin.list_topics()
    finally:
        admin.close()


def test_a_missing_routed_topic_is_named_at_start_or_refused_with_require_topics(tmp_path: Path) -> None:
    """The daemon says which topic is missing and which route needs it; with daemon.require_topics it exits 3."""
    missing = unique("nowhere")
    group = unique("g")
    groups = {group: {"routes": [{"name": "r", "topic": missing, "handler": "effects.record"}]}}
    warned = Daemon(_config(tmp_path, {unique("other"): {"partitions": 1}}, groups)).start()
    wait_for(lambda: f"topic '{missing}' does not exist" in warned.logs(), 60, "the missing topic is named")
    assert f"needed by {group}/r" in warned.logs()
    assert warned.stop() == 0, warned.logs()

    refusing = Daemon(_config(tmp_path, {unique("other"): {"partitions": 1}}, groups,
                              daemon={"require_topics": True})).start()
    assert refusing.wait(60) == 3, refusing.logs()
    [line] = [e for e in refusing.events() if e.get("event") == "cannot run"]
    assert f"topic '{missing}' does not exist" in line["error"] and "require_topics" in line["error"]
    assert json.dumps(line)  # one structured line, no traceback
    assert "Traceback" not in refusing.logs()
