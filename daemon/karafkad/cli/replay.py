"""`karafkad replay`: show the plan, or carry it out (the work is ops/replay.py's)."""

from __future__ import annotations

import argparse
import sys

import redis
from kafka.errors import KafkaError

from karafkad import defaults
from karafkad.cli.inspection import load_table
from karafkad.clients.kafka import failures
from karafkad.clients.kafka.admin import Cluster
from karafkad.clients.redis.connection import connect, describe
from karafkad.errors import EnqueueError, OperationRefused
from karafkad.ops.replay import ReplayPlan, Target, apply_replay, members_refusal, plan_replay
from karafkad.text import columns, plural


def target_of(args: argparse.Namespace) -> Target:
    """The replay's start from the arguments."""
    if args.earliest:
        return Target("earliest")
    if args.offset is not None:
        return Target("offset", args.offset)
    return Target("time", args.time)


def run(args: argparse.Namespace) -> int:
    target = target_of(args)
    table = load_table(args.config)
    if table is None:
        return defaults.EXIT_CONFIG
    settings = table.config.redis_for(args.group)
    client = connect(settings)
    top = client if settings == table.config.redis else connect(table.config.redis)
    try:
        with Cluster(table.config.kafka, "replay") as cluster:
            plan = plan_replay(table, cluster, client, args.group, args.topic, args.partition, target, args.route)
            if args.dry_run:
                _print_plan(plan)
                print("dry run: nothing was changed")
                if plan.members:
                    print(f"note: the replay itself will be refused until they stop: {members_refusal(plan)}")
                return defaults.EXIT_OK
            if plan.members:  # refused before anything is printed or changed
                raise OperationRefused(members_refusal(plan))
            _print_plan(plan)
            errors = apply_replay(plan, cluster, client, top)
    except OperationRefused as exc:
        print(f"karafkad replay: refused: {exc}", file=sys.stderr)
        return defaults.EXIT_CONFIG
    except KafkaError as exc:
        print(f"karafkad replay: Kafka: {failures.explain(exc, table.config.kafka)}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    except EnqueueError as exc:  # reading the marks and replay windows: it says "Redis: ..." itself
        print(f"karafkad replay: {exc}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    except redis.RedisError as exc:
        print(f"karafkad replay: Redis ({settings.describe()}): {describe(exc, settings)}", file=sys.stderr)
        return defaults.EXIT_RUNTIME
    finally:
        client.close()
        top.close()
    failed = {tp: e for tp, e in errors.items() if e is not None}
    for tp, error in failed.items():
        print(f"karafkad replay: {tp.topic}[{tp.partition}] was not moved: {error} (a member joined the group "
              "meanwhile?); run the same replay again", file=sys.stderr)
    moved = len(errors) - len(failed)
    generation = next(e.window.generation for e in plan.replayed if e.window is not None)
    print(f"moved {plural(moved, 'partition')} of group {args.group!r} back; start the daemon to run them (replay "
          f"{generation}: the replayed jobs' ids end in -r{generation})")
    return defaults.EXIT_RUNTIME if failed else defaults.EXIT_OK


def _print_plan(plan: ReplayPlan) -> None:
    what = (f"completing replay {plan.resumed} of group {plan.group!r}, which is under way" if plan.resumed
            else f"a new replay of group {plan.group!r}")
    print(f"{what}; routes: {', '.join(plan.routes) or 'all'}")
    rows = [("PARTITION", "COMMITTED", "HANDLED", "FROM", "MESSAGES", "")]
    for entry in plan.partitions:
        rows.append((f"{entry.partition.topic}[{entry.partition.partition}]",
                     "-" if entry.committed is None else str(entry.committed), str(entry.handled),
                     str(entry.target), f"≤ {entry.offsets}" if entry.window else "0", entry.note))
    for line in columns(rows):
        print(line)
    total = sum(e.offsets for e in plan.replayed)
    print(f"up to {plural(total, 'message')} on {plural(len(plan.replayed), 'partition')} to replay: each becomes "
          "a new job, once, with an id of its own")
