"""Side-by-side throughput benchmark (run through scripts/bench, which starts the services).

All figures come from one run on the same machine, services and data:

  1. raw kafka-python: poll and discard (the consume ceiling), with karafkad's consumer settings and
     with kafka-python's defaults
  2. RQ's best path: Queue.enqueue_many in one pipeline per 500 jobs (the enqueue reference)
  3. the obvious loop: kafka-python -> json.loads -> a jsonschema validator built once -> a Python
     filter -> Queue.enqueue per message -> commit per batch
  4. karafkad end to end, one process (1 and 4 consumer threads) and one process per core
  5. end to end with workers: messages produced -> handler finished, karafkad feeding one forking
     `karafkad worker`, a pool of one per core, and both again with --no-fork
  6. the price of replica acknowledgements: karafkad writing to a Redis primary with a replica
     (scripts/redis-ha, through Sentinel) with redis.min_replicas_acked 0 and 1, rate and p99 latency
  7. scale-out: 1, 2 and 4 instances of one group on a 24-partition topic (docs/scaling.md)
  8. the plan's figures (docs/scaling.md): the assignors' CPU for 1,000 partitions and 100 members,
     a member joining four (eager and cooperative), a static and a dynamic member restarted
  9. the price of order (issue 19, benchlib.ordering): karafkad's CPU per message on keyed messages
     with `ordering: none`, `key` and `partition`, and what a waiting job and a chain entry cost in
     Redis's memory; end to end with four --no-fork workers for each ordering, and a batch route of
     500 with one --no-fork worker

Every consuming row (1, 3, 4) runs in processes of its own that join a fresh, empty topic, are
stopped (SIGSTOP) while it is filled and continued together, so each consumes a backlog (joining,
rebalancing and a competing producer are not in the figures). Each gets a rate and its CPU per
message: user + system time of its processes (all threads) from /proc/PID/stat, from joined to all
consumed. Plus produce-to-enqueued latency at a fixed rate, Redis's CPU per job and peak RSS.
Outcomes are checked too: the right number of jobs, none twice, none failed in a worker. Timings
are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlib import plan
from benchlib.baselines import obvious_consumer, raw_consumer, redis_cost, rq_enqueue_many, run_in_child
from benchlib.daemons import karafkad_run, latency_run
from benchlib.data import PARTITIONS, ROOT, ha_redis, make_messages, plugins_folder, redis, sentinel_section, unique
from benchlib.ordering import cpu_steps, end_to_end_steps
from benchlib.profile import profile_run
from benchlib.report import CPU_ROWS, SCALE_INSTANCES, SCALE_PARTITIONS, cpu_ratios, outcome_problems, print_report
from benchlib.workers import end_to_end_run, setups


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000, help="messages per consuming row (default 100000)")
    parser.add_argument("--obvious-limit", type=int, default=20_000,
                        help="messages the (slow) obvious loop consumes (default 20000)")
    parser.add_argument("--worker-messages", type=int, default=5_000,
                        help="messages per end-to-end worker row; 80 %% become jobs (default 5000)")
    parser.add_argument("--latency-rate", type=int, default=2000)
    parser.add_argument("--latency-seconds", type=int, default=20)
    parser.add_argument("--output", type=Path, default=ROOT / "bench-results" / "latest.json")
    parser.add_argument("--only", choices=["replicas", "scale", "plan", "cpu", "ordering", "profile"], action="append",
                        help="run only these rows (repeatable): the replica-acknowledgement rows, the "
                             "scale-out rows, the rebalance figures of docs/scaling.md, the CPU-per-message "
                             "rows of issues 14 and 19 (raw kafka-python, karafkad with 1 and 4 threads, and "
                             "1 thread on keyed messages by ordering, with the memory of a waiting key), issue "
                             "19's end-to-end rows (4 --no-fork workers by ordering on --worker-messages, a "
                             "batch route of 500 with 1 --no-fork worker on --messages), or a py-spy "
                             "profile of one daemon consuming the backlog; default: every row but the profile")
    parser.add_argument("--profile-threads", type=int, default=1,
                        help="consumer threads of the profiled daemon (--only profile; default 1)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="karafkad-bench-"))
    sys.path.insert(0, str(plugins_folder(workdir)))
    values, passing = make_messages(args.messages)
    count, cores = len(values), os.cpu_count() or 1
    print(f"{count} messages per row, {PARTITIONS} partitions (~{sum(map(len, values)) // count} bytes; "
          f"{passing} pass schema and filter); each row fills a fresh topic", flush=True)

    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                               "messages": count, "passing": passing}
    rows: list[tuple[str, str, str, Callable[[], dict[str, Any]]]] = [
        ("raw kafka-python (poll, discard)", "raw", "msgs/s",
         lambda: run_in_child(raw_consumer, "raw", values, workdir, True)),
        ("raw kafka-python, its default settings", "raw_defaults", "msgs/s",
         lambda: run_in_child(raw_consumer, "raw-defaults", values, workdir, False)),
        ("RQ enqueue_many, 500 per pipeline", "enqueue_many", "msgs/s",
         lambda: rq_enqueue_many(values, min(50_000, count))),
        ("obvious loop (enqueue per message)", "obvious", "msgs/s",
         lambda: run_in_child(obvious_consumer, "obvious", values[:args.obvious_limit], workdir, unique("obvious"))),
        ("karafkad, 1 process, 1 thread", "karafkad_1p1t", "msgs/s",
         lambda: karafkad_run(count, passing, workdir, 1, 1)),
        ("karafkad, 1 process, 4 threads", "karafkad_1p4t", "msgs/s",
         lambda: karafkad_run(count, passing, workdir, 1, 4)),
        (f"karafkad, {cores} processes (1 per core)", "karafkad_per_core", "msgs/s",
         lambda: karafkad_run(count, passing, workdir, cores, 1)),
    ]
    steps = rows if not args.only else [row for row in rows if "cpu" in args.only and row[1] in CPU_ROWS]
    if not args.only or "cpu" in args.only:
        steps += cpu_steps(count, passing, workdir)
    worker_keys = [] if args.only else [(key, title) for key, title, _, _ in setups(cores)]
    steps += [(f"end to end, {title}", key, "jobs/s", _end_to_end(args.worker_messages, workdir, processes, fork))
              for key, title, processes, fork in setups(cores) if not args.only]
    if not args.only or "ordering" in args.only:
        steps += end_to_end_steps(args.worker_messages, count, workdir)
    if not args.only or "replicas" in args.only:
        steps += [step for acked in (0, 1) for step in _replica_steps(count, passing, workdir, acked, args)]
    if not args.only or "scale" in args.only:
        steps += [(f"scale-out: {n} instance(s), {SCALE_PARTITIONS} partitions", f"scale_{n}", "msgs/s",
                   _scale(count, passing, workdir, n)) for n in SCALE_INSTANCES]
    for title, key, unit, step in steps:
        redis().flushall()  # every step starts from an empty Redis (no AOF rewrite of the last one's jobs)
        ha_redis().flushall()
        print(f"  {title} ...", end=" ", flush=True)
        results[key] = step()
        cpu = results[key].get("cpu_us_per_message")
        if "p99_ms" in results[key]:
            print(f"p99 {results[key]['p99_ms']:.1f} ms", flush=True)
            continue
        rate = results[key].get("message_rate", results[key]["rate"])  # a batch route's: messages
        print(f"{rate:,.0f} {unit}" + (f", {cpu:.1f} µs CPU/msg" if cpu is not None else ""), flush=True)
    if not args.only or "plan" in args.only:
        print("  the plan's figures: assignors, a member joining, a member restarted ...", end=" ", flush=True)
        results["plan"] = _plan(workdir)
        print("done", flush=True)
    if all(key in results for key in CPU_ROWS):
        results["cpu_ratios"] = cpu_ratios(results)
    if args.only and "profile" in args.only:
        print(f"  profile: karafkad, {args.profile_threads} consumer thread(s), py-spy ...", end=" ", flush=True)
        results["profile"] = profile_run(count, workdir, args.profile_threads, args.output.with_name("profile.txt"))
        print("done", flush=True)
    if args.only:
        return _finish(results, worker_keys, args.output, workdir)
    redis().flushall()
    print("  Redis CPU per job karafkad writes ...", end=" ", flush=True)
    results["redis_cost"] = redis_cost(values, min(40_000, count))
    print(f"{results['redis_cost']['us_per_job_appendonly']:.1f} µs", flush=True)
    redis().flushall()
    print(f"  latency at {args.latency_rate} msgs/s ...", end=" ", flush=True)
    results["latency"] = latency_run(workdir, args.latency_rate, args.latency_seconds)
    print("done", flush=True)
    return _finish(results, worker_keys, args.output, workdir)


def _finish(results: dict[str, Any], worker_keys: list[tuple[str, str]], output: Path, workdir: Path) -> int:
    """Print the report, write the JSON, and fail when an outcome was wrong."""
    print_report(results, worker_keys)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {output} (logs in {workdir})")
    problems = outcome_problems(results, worker_keys)
    if problems:
        print(f"OUTCOME CHECK FAILED for {', '.join(problems)}: wrong job count, duplicates or failed jobs")
        return 1
    return 0


def _replica_steps(count: int, passing: int, workdir: Path, acked: int,
                   args: argparse.Namespace) -> list[tuple[str, str, str, Callable[[], dict[str, Any]]]]:
    """karafkad (1 process, 1 thread) on scripts/redis-ha with `acked` replica acknowledgements: its rate
    on the backlog, and its latency at the latency rate."""
    section = sentinel_section(acked)
    return [
        (f"karafkad -> primary + replica, min_replicas_acked {acked}", f"replicas_{acked}", "msgs/s",
         lambda: karafkad_run(count, passing, workdir, 1, 1, redis_section=section, client=ha_redis)),
        (f"  latency at {args.latency_rate} msgs/s, min_replicas_acked {acked}", f"latency_replicas_{acked}", "",
         lambda: latency_run(workdir, args.latency_rate, args.latency_seconds, redis_section=section,
                             client=ha_redis)),
    ]


def _plan(workdir: Path) -> dict[str, Any]:
    return {"assignors": plan.assignor_cost(), "commits": plan.commit_cost(),
            "join": {strategy: plan.join_cost(workdir, strategy) for strategy in ("range", "cooperative-sticky")},
            "restart": {kind: plan.restart_cost(workdir, kind == "static") for kind in ("static", "dynamic")}}


def _scale(count: int, passing: int, workdir: Path, instances: int) -> Callable[[], dict[str, Any]]:
    return lambda: karafkad_run(count, passing, workdir, instances, 1, partitions=SCALE_PARTITIONS)


def _end_to_end(count: int, workdir: Path, processes: int, fork: bool) -> Callable[[], dict[str, Any]]:
    """The end-to-end step for one worker setup (a function, so each step keeps its own setup)."""
    return lambda: end_to_end_run(count, workdir, processes, fork)


if __name__ == "__main__":
    raise SystemExit(main())
