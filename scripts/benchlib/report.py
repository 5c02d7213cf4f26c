"""The printed report: every row side by side, the ratios against their targets, met or not (never asserted)."""

from __future__ import annotations

from typing import Any

from benchlib.ordering import (
    BATCH,
    CPU_ORDERING_ROWS,
    E2E_BATCH_ROW,
    E2E_ORDERING_ROWS,
    ORDERING_KEYS,
    ORDERING_WORKERS,
    ORDERINGS,
    cpu_key,
    e2e_key,
)
from benchlib.profile import print_summary

CONSUMING_ROWS = ("raw", "raw_defaults", "obvious", "karafkad_1p1t", "karafkad_1p4t", "karafkad_per_core")
CPU_ROWS = ("raw", "karafkad_1p1t", "karafkad_1p4t")
"""The rows issue 14's CPU targets compare (`--only cpu` runs just these)."""
CPU_TARGET_1T_OVER_RAW = 2.0
"""Issue 14: karafkad with one consumer thread at most twice raw kafka-python's CPU per message."""
CPU_TARGET_4T_OVER_1T = 1.0
"""Issue 14: four consumer threads at no more CPU per message than one."""
CPU_BEFORE_ORDERING_US = 10.6
"""Issue 19: the unordered route's CPU per message before ordering existed (1 thread; docs/benchmarks.md,
the run of 2026-12-01); `ordering: none` should stay within that run's noise of it."""
KEY_TARGET_EXTRA_US = 2.0
"""Issue 19: `ordering: key` at most 2 µs more of the daemon's CPU per message than `none`."""
KEY_TARGET_EXTRA_COMMANDS = 0.25
"""Issue 19: `ordering: key` at most 25 % more Redis commands per job than `none`."""
BATCH_TARGET_MESSAGES = 20_000
"""Issue 19: a batch route of 500 handles at least this many messages a second with one --no-fork worker."""


def cpu_ratios(r: dict[str, Any]) -> dict[str, Any]:
    """Issue 14's CPU-per-message ratios and whether each target is met (for the report and the JSON)."""
    raw = r["raw"]["cpu_us_per_message"]
    one, four = r["karafkad_1p1t"]["cpu_us_per_message"], r["karafkad_1p4t"]["cpu_us_per_message"]
    return {"karafkad_1t_over_raw": one / raw, "karafkad_4t_over_raw": four / raw, "threads_4_over_1": four / one,
            "target_1t_over_raw": CPU_TARGET_1T_OVER_RAW, "met_1t_over_raw": one / raw <= CPU_TARGET_1T_OVER_RAW,
            "target_4_over_1": CPU_TARGET_4T_OVER_1T, "met_4_over_1": four / one <= CPU_TARGET_4T_OVER_1T}


SCALE_INSTANCES = (1, 2, 4)
SCALE_PARTITIONS = 24
"""Issue 13's scale-out measurement: instances of one group on a topic of this many partitions."""


def print_report(r: dict[str, Any], worker_keys: list[tuple[str, str]]) -> None:
    if "raw" in r and "obvious" not in r:  # --only cpu
        _cpu_rows(r)
        _cpu(r)
    elif "raw" in r:
        _rates(r)
        _wall_ratios(r)
        _cpu(r)
        _end_to_end(r, worker_keys)
        _others(r)
    if "replicas_0" in r:
        _replicas(r)
    if all(key in r for key in CPU_ORDERING_ROWS):
        _ordering_cpu(r)
    if all(key in r for key in (*E2E_ORDERING_ROWS, E2E_BATCH_ROW)):
        _ordering_end_to_end(r)
    if "scale_1" in r:
        _scale(r)
    if "plan" in r:
        _plan(r["plan"])
    if "profile" in r:
        print_summary(r["profile"])


def _cpu_rows(r: dict[str, Any]) -> None:
    print(f"\n{'':<38} {'msgs/s':>10} {'CPU µs/msg':>12}")
    for name, key in (("raw kafka-python (poll, discard)", "raw"), ("karafkad, 1 process, 1 thread", "karafkad_1p1t"),
                      ("karafkad, 1 process, 4 threads", "karafkad_1p4t")):
        row = r[key]
        print(f"{name:<38} {row['rate']:>10,.0f} {row['cpu_us_per_message']:>12.1f} "
              f"±{row['cpu_us_per_message_resolution']:.1f}")
    rss = r["karafkad_1p4t"]["peak_rss_mb"]
    print(f"(CPU: user + system of each consuming process, all its threads, from joined to all consumed;\n"
          f" ± is /proc's clock tick spread over the messages; peak RSS with 4 threads {rss:.0f} MB)")


def _plan(p: dict[str, Any]) -> None:
    a = p["assignors"]
    print(f"\nthe group leader's assignment, {a['partitions']:,} partitions and {a['members']} members "
          "(kafka-python, best of 3)")
    print(f"{'':<38} {'fresh ms':>9} {'one joins ms':>13} {'partitions kept':>16}")
    for name in ("range", "roundrobin", "sticky", "cooperative-sticky"):
        row = a[name]
        print(f"{name:<38} {row['fresh_ms']:>9.1f} {row['one_joins_ms']:>13.1f} {row['kept_by_old_members']:>16,}")
    print("\na fifth member joins four (1 thread each, 24 partitions), sampled every 50 ms")
    print(f"{'':<38} {'stable after s':>14} {'rebalancing s':>14} {'moved':>6} {'longest unowned s':>18}")
    for name, row in p["join"].items():
        print(f"{name:<38} {row['seconds_from_start']:>14.1f} {row['seconds_rebalancing']:>14.1f} "
              f"{row['moved']:>6} {row['longest_unowned_s']:>18.1f}")
    c = p["commits"]
    print(f"\noffset commits, {c['partitions_per_commit']} partitions each, one after another: the broker spent "
          f"{c['broker_us_per_commit']:.0f} µs of CPU per commit; {c['ms_per_commit_round_trip']:.2f} ms round trip")
    print("\none of four members stopped (SIGTERM) and started again")
    print(f"{'':<38} {'stable after s':>14} {'others lost':>12} {'longest unowned s':>18}")
    for name, row in p["restart"].items():
        print(f"{name + ' membership':<38} {row['seconds_from_start']:>14.1f} {row['others_lost_a_partition']:>12} "
              f"{row['longest_unowned_s']:>18.1f}")


def _replicas(r: dict[str, Any]) -> None:
    print("\nreplica acknowledgements: karafkad (1 process, 1 thread) -> a Redis primary with one replica, "
          "through Sentinel")
    print(f"{'':<38} {'msgs/s':>10} {'CPU µs/msg':>12} {'p50 ms':>8} {'p99 ms':>8}")
    for acked in (0, 1):
        row, lat = r[f"replicas_{acked}"], r[f"latency_replicas_{acked}"]
        print(f"{'min_replicas_acked ' + str(acked):<38} {row['rate']:>10,.0f} {row['cpu_us_per_message']:>12.1f} "
              f"{lat['p50_ms']:>8.1f} {lat['p99_ms']:>8.1f}")
    zero, one = r["replicas_0"]["rate"], r["replicas_1"]["rate"]
    print(f"(WAIT after each batch: {one / zero:.2f}x the rate without it; latency at "
          f"{r['latency_replicas_1']['produced_rate']:,.0f} msgs/s produced; Redis CPU counts both nodes)")


def _scale(r: dict[str, Any]) -> None:
    print(f"\nscale-out: instances of one group (1 consumer thread each) on a {SCALE_PARTITIONS}-partition topic, "
          f"{r['machine']['cpus']} cores shared with the broker and Redis")
    print(f"{'':<38} {'msgs/s':>10} {'x 1':>6} {'CPU µs/msg':>12} {'karafkad':>9} {'broker':>7} {'redis':>6} "
          f"{'machine':>8}")
    base = r["scale_1"]["rate"]
    for n in SCALE_INSTANCES:
        row = r[f"scale_{n}"]
        cores = {k: v / row["wall_seconds"] for k, v in row["cpu_seconds_by_process"].items()}
        print(f"{f'{n} instance(s)':<38} {row['rate']:>10,.0f} {row['rate'] / base:>6.2f} "
              f"{row['cpu_us_per_message']:>12.1f} {cores['karafkad']:>9.2f} {cores['broker']:>7.2f} "
              f"{cores['redis']:>6.2f} {row['machine_cores_busy']:>8.2f}")
    print("(the last four columns: cores busy while the backlog was consumed, by party and for the whole machine)")


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def _rates(r: dict[str, Any]) -> None:
    rows = [
        ("raw kafka-python (poll, discard)", "raw"),
        ("  the same with kafka-python defaults", "raw_defaults"),
        ("RQ enqueue_many (enqueue only)", "enqueue_many"),
        ("obvious loop", "obvious"),
        ("karafkad, 1 process, 1 thread", "karafkad_1p1t"),
        ("karafkad, 1 process, 4 threads", "karafkad_1p4t"),
        (f"karafkad, {r['karafkad_per_core']['processes']} processes", "karafkad_per_core"),
    ]
    print(f"\n{'':<38} {'msgs/s':>10} {'CPU µs/msg':>12}")
    for name, key in rows:
        row = r[key]
        cpu = (f"{row['cpu_us_per_message']:>12.1f} ±{row['cpu_us_per_message_resolution']:.1f}"
               if key in CONSUMING_ROWS else f"{'-':>12}")
        print(f"{name:<38} {row['rate']:>10,.0f} {cpu}")
    print("(CPU: user + system of each consuming process, all its threads, from joined to all consumed;\n"
          " ± is /proc's clock tick spread over the messages; RQ enqueue_many consumes nothing)")


def _wall_ratios(r: dict[str, Any]) -> None:
    one = r["karafkad_1p1t"]["rate"]
    best_one = max(one, r["karafkad_1p4t"]["rate"])
    print(f"\nratios (best single process = {best_one:,.0f} msgs/s)")
    targets: list[tuple[str, float, float | None]] = [
        ("karafkad / obvious loop", best_one / r["obvious"]["rate"], 8.0),
        ("karafkad / RQ enqueue_many", best_one / r["enqueue_many"]["rate"], 3.0),
        ("karafkad / raw kafka-python", best_one / r["raw"]["rate"], 0.6),
        ("  against raw with its defaults", best_one / r["raw_defaults"]["rate"], None),
        ("per-core processes / one process", r["karafkad_per_core"]["rate"] / best_one, 1.6),
    ]
    for name, value, target in targets:
        if target is None:
            print(f"  {name:<34} {value:6.2f}x   (context only: the target is against the tuned client)")
            continue
        verdict = "meets" if value >= target else "BELOW"
        print(f"  {name:<34} {value:6.2f}x   (target >= {target}x: {verdict})")


def _cpu(r: dict[str, Any]) -> None:
    c = r["cpu_ratios"]
    print("\nCPU per message, karafkad / raw kafka-python (same run, same data)")
    print(f"  {'1 consumer thread':<34} {c['karafkad_1t_over_raw']:6.2f}x   "
          f"(target <= {c['target_1t_over_raw']}x: {_met(c['met_1t_over_raw'])})")
    print(f"  {'4 consumer threads':<34} {c['karafkad_4t_over_raw']:6.2f}x")
    print(f"  {'4 threads / 1 thread':<34} {c['threads_4_over_1']:6.2f}x   "
          f"(target <= {c['target_4_over_1']}x: {_met(c['met_4_over_1'])})")


def _end_to_end(r: dict[str, Any], worker_keys: list[tuple[str, str]]) -> None:
    if not worker_keys:
        return
    first = r[worker_keys[0][0]]
    alone = r["karafkad_1p1t"]["rate"] * r["passing"] / r["messages"]
    print(f"\nend to end, messages produced -> handler finished, jobs/s ({first['messages']:,} messages, "
          f"{first['jobs_expected']:,} jobs, a handler that returns at once)")
    print(f"{'':<38} {'end to end':>10} {'workers alone':>14} {'karafkad (same run)':>20} {'Redis µs/job':>13} "
          f"{'cmds/job':>9}")
    for key, title in worker_keys:
        row = r[key]
        print(f"{title:<38} {row['rate']:>10,.0f} {row['workers_rate']:>14,.0f} {row['daemon_rate']:>20,.0f} "
              f"{row['redis_us_per_job']:>13.0f} {row['redis_commands_per_job']:>9.1f}")
    print(f"(karafkad on its own, 1 process, 1 thread, above: {alone:,.0f} jobs/s. End to end: first job\n"
          " enqueued -> last finished; workers alone: first started -> last finished)")


def _others(r: dict[str, Any]) -> None:
    lat = r["latency"]
    print(f"\nlatency at {lat['produced_rate']:,.0f} msgs/s produced (first {lat['warmup_seconds_excluded']} s "
          f"left out): p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms "
          "(target p99 <= 25 ms)")
    cost = r["redis_cost"]
    print(f"Redis CPU per job written: {cost['us_per_job_appendonly']:.1f} µs with appendonly yes, "
          f"{cost['us_per_job_no_appendonly']:.1f} µs without (Redis alone could take "
          f"{cost['rate']:,.0f} jobs/s on a core of its own); {cost['commands_per_job']:.1f} commands per job; "
          f"in batches of 10: {cost['us_per_job_batches_of_10']:.1f} µs and "
          f"{cost['commands_per_job_batches_of_10']:.1f} commands per job")
    print(f"offset commits at {lat['produced_rate']:,.0f} msgs/s: {lat['commits_per_second']:.1f} a second "
          "(1 consumer thread)")
    print(f"peak RSS, 1 process with 4 threads: {r['karafkad_1p4t']['peak_rss_mb']:.0f} MB (target <= 120 MB)")
    for key in ("karafkad_1p1t", "karafkad_1p4t", "karafkad_per_core"):
        run = r[key]
        shares = ", ".join(f"{name} {cpu:.1f}" for name, cpu in run["cpu_seconds_by_process"].items())
        print(f"{run['processes']}p/{run['threads']}t: CPU seconds per 100k messages "
              f"{run['cpu_seconds_per_100k']:.1f}; jobs {run['jobs']} of {run['jobs_expected']} expected, "
              f"{run['duplicates']} duplicated")
        print(f"      CPU seconds while it ran ({run['wall_seconds']:.1f} s): {shares} "
              f"= {run['cores_busy']:.2f} of {r['machine']['cpus']} cores; whole machine "
              f"{run['machine_cores_busy']:.2f} cores busy")


def _ordering_cpu(r: dict[str, Any]) -> None:
    none, key = r[cpu_key("none")], r[cpu_key("key")]
    print(f"\nthe price of order in the daemon: 1 consumer thread, {none['messages']:,} messages with "
          f"{ORDERING_KEYS:,} keys, no worker (so every job after its key's first waits)")
    print(f"{'':<38} {'msgs/s':>10} {'CPU µs/msg':>12} {'Redis cmds/job':>15} {'Redis µs/job':>13} {'waiting':>8}")
    for ordering in ORDERINGS:
        row = r[cpu_key(ordering)]
        print(f"{'ordering: ' + ordering:<38} {row['rate']:>10,.0f} {row['cpu_us_per_message']:>12.1f} "
              f"{row['redis_commands_per_job']:>15.2f} {row['redis_us_per_job']:>13.1f} {row['waiting_jobs']:>8,}")
    extra = key["cpu_us_per_message"] - none["cpu_us_per_message"]
    print(f"  key - none, daemon CPU per message {extra:+.1f} µs (target <= +{KEY_TARGET_EXTRA_US} µs: "
          f"{_met(extra <= KEY_TARGET_EXTRA_US)}); Redis commands per job are karafkad's own here")
    if "karafkad_1p1t" in r:
        unkeyed = r["karafkad_1p1t"]["cpu_us_per_message"]
        print(f"  unkeyed 1 thread {unkeyed:.1f} µs/msg, keyed ordering: none {none['cpu_us_per_message']:.1f}; "
              f"before ordering {CPU_BEFORE_ORDERING_US} (another run: compare within the noise)")
    memory = key.get("inspected")
    if memory:
        one = memory["chain_one_hash"]
        waiting = (memory["dependents_set_bytes"] + memory["dependencies_set_bytes"]
                   + memory["deferred_registry_bytes_per_entry"] + memory["job_hash_extra_bytes"])
        print(f"memory (MEMORY USAGE, mean of {memory['sampled_waiting_jobs']} waiting jobs): a chain entry "
              f"{memory['chain_bytes_per_field']:.0f} B ({memory['chain_encoding']}, "
              f"{memory['chain_fields'] / max(memory['chain_hashes'], 1):.0f} keys a partition), "
              f"{one['bytes_per_field']:.0f} B ({one['encoding']}, {one['fields']:,} in one hash);\n"
              f"  a waiting job {waiting:.0f} B: its dependents-set entry {memory['dependents_set_bytes']:.0f} "
              f"({memory['dependents_encoding']} of {memory['dependents_members']:.0f}), its dependencies set "
              f"{memory['dependencies_set_bytes']:.0f}, its deferred-registry entry "
              f"{memory['deferred_registry_bytes_per_entry']:.0f}, its hash's chain and dependency fields "
              f"{memory['job_hash_extra_bytes']:.0f}")


def _ordering_end_to_end(r: dict[str, Any]) -> None:
    first = r[e2e_key("none")]
    print(f"\nend to end by ordering, messages produced -> handler finished: {first['messages']:,} messages "
          f"({first['jobs_expected']:,} jobs) with {ORDERING_KEYS:,} keys, {ORDERING_WORKERS} --no-fork workers")
    print(f"{'':<38} {'jobs/s':>8} {'workers alone':>14} {'karafkad':>9} {'daemon µs/msg':>14} "
          f"{'Redis µs/job':>13} {'cmds/job':>9} {'waited':>7} {'hand-off ms':>12}")
    for ordering in ORDERINGS:
        row = r[e2e_key(ordering)]
        print(f"{'ordering: ' + ordering:<38} {row['rate']:>8,.0f} {row['workers_rate']:>14,.0f} "
              f"{row['daemon_rate']:>9,.0f} {row['daemon_cpu_us_per_message']:>14.1f} "
              f"{row['redis_us_per_job']:>13.0f} {row['redis_commands_per_job']:>9.1f} {row['waited']:>7,} "
              f"{row['hand_off_ms_p50']:>12.1f}")
    print("  (karafkad: the daemon's jobs/s beside the workers; daemon µs/msg: its CPU from joined to everything\n"
          "   written; waited: jobs written to wait for their key's previous job; hand-off: median time from that\n"
          "   job's end to the waiting job's start)")
    none, key = first["redis_commands_per_job"], r[e2e_key("key")]["redis_commands_per_job"]
    extra = key / none - 1 if none else 0.0
    print(f"  key / none, Redis commands per job (the whole system's) {extra:+.0%} (target <= "
          f"+{KEY_TARGET_EXTRA_COMMANDS:.0%}: {_met(extra <= KEY_TARGET_EXTRA_COMMANDS)})")
    batch = r[E2E_BATCH_ROW]
    print(f"batch route {BATCH}, 1 --no-fork worker: {batch['message_rate']:,.0f} messages/s end to end "
          f"(target >= {BATCH_TARGET_MESSAGES:,}: {_met(batch['message_rate'] >= BATCH_TARGET_MESSAGES)}); "
          f"{batch['messages_handled']:,} messages in {batch['jobs']} jobs, {batch['redis_commands_per_message']:.2f} "
          f"Redis commands and {batch['redis_us_per_job'] * batch['jobs'] / max(batch['messages_handled'], 1):.1f} "
          f"µs a message, daemon {batch['daemon_cpu_us_per_message']:.1f} µs CPU a message")


def outcome_problems(r: dict[str, Any], worker_keys: list[tuple[str, str]]) -> list[str]:
    """Rows whose outcome is wrong: karafkad runs with a wrong job count or duplicates, worker setups
    where a job failed or did not run."""
    rows = ("karafkad_1p1t", "karafkad_1p4t", "karafkad_per_core", "replicas_0", "replicas_1",
            *(f"scale_{n}" for n in SCALE_INSTANCES))
    problems = [k for k in rows if k in r and (r[k]["jobs"] != r["passing"] or r[k]["duplicates"])]
    problems += [k for k, _ in worker_keys if r[k]["jobs"] != r[k]["jobs_expected"] or r[k]["failed"]]
    problems += [k for k in CPU_ORDERING_ROWS if k in r and (r[k]["jobs"] != r["passing"] or r[k]["duplicates"])]
    problems += [k for k in E2E_ORDERING_ROWS
                 if k in r and (r[k]["jobs"] != r[k]["jobs_expected"] or r[k]["failed"] or r[k]["order_violations"])]
    batch = r.get(E2E_BATCH_ROW)
    if batch and (batch["messages_handled"] != batch["jobs_expected"] or batch["messages_twice"] or batch["failed"]):
        problems.append(E2E_BATCH_ROW)
    return problems
