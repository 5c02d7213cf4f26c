"""`karafkad topics plan|apply`: print the differences between routes.yaml's topics and the cluster, or apply them."""

from __future__ import annotations

import argparse
import sys

from kafka.errors import KafkaError

from karafkad import defaults
from karafkad.cli.output import print_problems
from karafkad.clients.kafka import failures
from karafkad.clients.kafka.admin import Cluster
from karafkad.config.loading import load_config
from karafkad.errors import ConfigError
from karafkad.ops.topics import TopicsPlan, apply_topics, plan_topics
from karafkad.text import columns, plural


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print_problems(exc)
        return defaults.EXIT_CONFIG
    if not config.topics:
        print(f"{args.config} declares no topics (a `topics:` section lists them; see docs/operations.md)")
        return defaults.EXIT_OK
    try:
        with Cluster(config.kafka, "topics") as cluster:
            plan = plan_topics(config, cluster)
            _print(plan)
            if plan.problems:
                print_problems(ConfigError(plan.problems))
                if args.action == "apply":
                    print("nothing applied: fix the routes file first", file=sys.stderr)
                return defaults.EXIT_CONFIG
            if args.action == "plan" or not plan.changes:
                return defaults.EXIT_OK
            results = apply_topics(plan, cluster)
    except KafkaError as exc:
        print(f"karafkad topics: Kafka: {failures.explain(exc, config.kafka)}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    failed = 0
    for change, error in results:
        if error is None:
            print(f"done: {change.kind} {change.topic}")
        else:
            failed += 1
            print(f"FAILED: {change.kind} {change.topic}: {error}", file=sys.stderr)
    print(f"{plural(len(results) - failed, 'change')} applied" + (f", {failed} failed" if failed else ""))
    return defaults.EXIT_RUNTIME if failed else defaults.EXIT_OK


def _print(plan: TopicsPlan) -> None:
    rows: list[tuple[str, str]] = [(change.kind, f"{change.topic}: {change.detail}") for change in plan.changes]
    rows += [("not changed", refusal) for refusal in plan.refusals]
    rows += [("note", note) for note in plan.notes]
    for line in columns(rows):
        print(line)
    if not plan.changes and not plan.refusals and not plan.problems:
        print(f"no changes: {plural(len(plan.in_step), 'topic')} as declared")
    elif plan.in_step:  # with problems (printed next, on stderr) the plan is not "no changes"
        print(f"{plural(len(plan.in_step), 'topic')} already as declared")
