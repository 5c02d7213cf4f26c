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

from benchlib.baselines import obvious_consumer, raw_consumer, redis_cost, rq_enqueue_many, run_in_child
from benchlib.daemons import karafkad_run, latency_run
from benchlib.data import PARTITIONS, ROOT, make_messages, plugins_folder, redis, unique
from benchlib.report import cpu_ratios, outcome_problems, print_report
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
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="karafkad-bench-"))
    sys.path.insert(0, str(plugins_folder(workdir)))
    values, passing = make_messages(args.messages)
    count, cores = len(values), os.cpu_count() or 1
    print(f"{count} messages per row, {PARTITIONS} partitions (~{sum(map(len, values)) // count} bytes; "
          f"{passing} pass schema and filter); each row fills a fresh topic", flush=True)

    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                               "messages": count, "passing": passing}
    steps: list[tuple[str, str, str, Callable[[], dict[str, Any]]]] = [
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
    worker_keys = [(key, title) for key, title, _, _ in setups(cores)]
    steps += [(f"end to end, {title}", key, "jobs/s", _end_to_end(args.worker_messages, workdir, processes, fork))
              for key, title, processes, fork in setups(cores)]
    for title, key, unit, step in steps:
        redis().flushall()  # every step starts from an empty Redis (no AOF rewrite of the last one's jobs)
        print(f"  {title} ...", end=" ", flush=True)
        results[key] = step()
        cpu = results[key].get("cpu_us_per_message")
        print(f"{results[key]['rate']:,.0f} {unit}" + (f", {cpu:.1f} µs CPU/msg" if cpu is not None else ""),
              flush=True)
    results["cpu_ratios"] = cpu_ratios(results)
    redis().flushall()
    print("  Redis CPU per job karafkad writes ...", end=" ", flush=True)
    results["redis_cost"] = redis_cost(values, min(40_000, count))
    print(f"{results['redis_cost']['us_per_job_appendonly']:.1f} µs", flush=True)
    redis().flushall()
    print(f"  latency at {args.latency_rate} msgs/s ...", end=" ", flush=True)
    results["latency"] = latency_run(workdir, args.latency_rate, args.latency_seconds)
    print("done", flush=True)

    print_report(results, worker_keys)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {args.output} (logs in {workdir})")
    problems = outcome_problems(results, worker_keys)
    if problems:
        print(f"OUTCOME CHECK FAILED for {', '.join(problems)}: wrong job count, duplicates or failed jobs")
        return 1
    return 0


def _end_to_end(count: int, workdir: Path, processes: int, fork: bool) -> Callable[[], dict[str, Any]]:
    """The end-to-end step for one worker setup (a function, so each step keeps its own setup)."""
    return lambda: end_to_end_run(count, workdir, processes, fork)


if __name__ == "__main__":
    raise SystemExit(main())
