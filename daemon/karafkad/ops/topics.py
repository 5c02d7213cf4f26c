"""`karafkad topics plan|apply`: make the cluster's topics what routes.yaml's `topics` section says.

A plan compares each declared topic with the cluster: a missing topic is
created; a topic with fewer partitions gets more; a config that differs is
set. Nothing is ever deleted, and what Kafka cannot do or karafkad will not
do on its own (fewer partitions, another replication factor) is explained
instead. A config name the cluster does not know (a typo such as
`retention.msx`) is a problem of the routes file, and nothing is applied.
The daemon's start checks that every routed and dead-letter topic exists
(`missing_topics`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from kafka.errors import KafkaError

from karafkad.clients.kafka.admin import Cluster, TopicState
from karafkad.config.settings import Config, TopicSpec
from karafkad.errors import Problem
from karafkad.text import close_match, plural


@dataclass(frozen=True)
class Change:
    """One thing to do to one topic."""

    topic: str
    kind: Literal["create", "add partitions", "set config"]
    detail: str
    spec: TopicSpec
    configs: dict[str, str] = field(default_factory=dict)
    """For `set config`: key -> the value wanted."""


@dataclass
class TopicsPlan:
    changes: list[Change] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    """What differs and will not be changed, each with why."""
    in_step: list[str] = field(default_factory=list)
    """Declared topics the cluster already has as declared (not one with a problem)."""
    problems: list[Problem] = field(default_factory=list)
    """Config names the cluster does not know, each where the routes file has it: nothing may be applied."""
    notes: list[str] = field(default_factory=list)
    """What could not be checked, and why."""


def plan_topics(config: Config, cluster: Cluster) -> TopicsPlan:
    """What `topics apply` would do."""
    plan = TopicsPlan()
    states = cluster.topics(t.name for t in config.topics)
    current = cluster.configs({t.name: t.config.keys() for t in config.topics if t.name in states and t.config})
    unknown = _check_config_names(config, cluster, states, plan)
    for spec in config.topics:
        state = states.get(spec.name)
        # A name the cluster does not know is a problem (above), not also a change to make.
        settable = {k: v for k, v in spec.config.items() if (spec.name, k) not in unknown}
        if state is None:
            rf = f", replication factor {spec.replication_factor}" if spec.replication_factor else ""
            extra = f", {_configs(settable)}" if settable else ""
            plan.changes.append(Change(spec.name, "create", f"{plural(spec.partitions, 'partition')}{rf}{extra}",
                                       spec))
            continue
        before = len(plan.changes) + len(plan.refusals)
        if state.partitions < spec.partitions:
            plan.changes.append(Change(spec.name, "add partitions", f"{state.partitions} -> {spec.partitions} "
                                       "(keyed messages will map to other partitions from now on)", spec))
        elif state.partitions > spec.partitions:
            plan.refusals.append(f"{spec.name}: has {plural(state.partitions, 'partition')}, {config.file} says "
                                 f"{spec.partitions}: Kafka cannot take partitions away (a new topic and a "
                                 "migration would be needed); left as it is")
        if spec.replication_factor and spec.replication_factor != state.replication_factor:
            plan.refusals.append(f"{spec.name}: replication factor {state.replication_factor}, {config.file} says "
                                 f"{spec.replication_factor}: that is a partition reassignment "
                                 "(kafka-reassign-partitions), not done here")
        wanted = {k: v for k, v in settable.items() if current.get(spec.name, {}).get(k) != v}
        if wanted:
            was = ", ".join(f"{k} {current.get(spec.name, {}).get(k, '?')} -> {v}" for k, v in wanted.items())
            plan.changes.append(Change(spec.name, "set config", was, spec, wanted))
        # A config name the cluster does not know is not "as declared" either: the plan has a problem there.
        if len(plan.changes) + len(plan.refusals) == before and len(settable) == len(spec.config):
            plan.in_step.append(spec.name)
    return plan


def _check_config_names(config: Config, cluster: Cluster, states: Mapping[str, TopicState],
                        plan: TopicsPlan) -> set[tuple[str, str]]:
    """A problem for each topic config name the cluster does not know (the broker would refuse it at apply);
    the (topic, name)s found."""
    unknown: set[tuple[str, str]] = set()
    asked = [spec for spec in config.topics if spec.config]
    if not asked:
        return unknown
    try:
        known = cluster.topic_config_names(states)
    except KafkaError as exc:  # e.g. an ACL without DescribeConfigs: the plan itself still stands
        plan.notes.append(f"topic config names not checked: the cluster did not describe a topic's configs "
                          f"({exc}); apply will say which ones the broker refuses")
        return unknown
    if not known:
        plan.notes.append("topic config names not checked: the cluster has no topic to read them from "
                          "(apply will say which ones the broker refuses)")
        return unknown
    for spec in asked:
        for key in spec.config:
            if key in known:
                continue
            unknown.add((spec.name, key))
            hint = close_match(key, known)
            tip = f"did you mean {hint!r}?" if hint else f"its topic configs are: {', '.join(sorted(known))}"
            plan.problems.append(config.document.problem(
                ("topics", spec.name, "config", key),
                f"topic {spec.name}: the cluster knows no topic config {key!r} ({tip})"))
    return unknown


def apply_topics(plan: TopicsPlan, cluster: Cluster) -> list[tuple[Change, str | None]]:
    """Carry out the changes in order; each with None or the reason it failed (the others still run)."""
    done: list[tuple[Change, str | None]] = []
    for change in plan.changes:
        try:
            if change.kind == "create":
                cluster.create(change.topic, change.spec.partitions, change.spec.replication_factor,
                               change.spec.config)
            elif change.kind == "add partitions":
                cluster.add_partitions(change.topic, change.spec.partitions)
            else:
                cluster.set_configs(change.topic, change.configs)
            done.append((change, None))
        except Exception as exc:  # the cluster's refusal of one change: report it, go on with the others
            done.append((change, f"{type(exc).__name__}: {exc}"))
    return done


def needed_topics(config: Config) -> dict[str, list[str]]:
    """Every routed and dead-letter topic -> what needs it (routes, as `group/route`)."""
    needed: dict[str, list[str]] = {}
    for route in config.routes:
        for topic in route.topics:
            needed.setdefault(topic, []).append(f"{route.group}/{route.name}")
        if route.dead_letter:
            needed.setdefault(route.dead_letter, []).append(f"{route.group}/{route.name} (dead letters)")
    return needed


def missing_topics(config: Config, cluster: Cluster) -> dict[str, list[str]]:
    """The routed and dead-letter topics the cluster does not have -> what needs them."""
    needed = needed_topics(config)
    existing = cluster.partitions(needed)
    return {topic: users for topic, users in needed.items() if topic not in existing}


def _configs(config: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items())
