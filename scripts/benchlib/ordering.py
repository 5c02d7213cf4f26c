"""Issue 19's rows: what keeping Kafka's order through RQ costs, beside the unordered route in the same run.

- CPU per message (`--only cpu`, row 4's method): one daemon, one consumer thread, consuming the same
  keyed backlog (ORDERING_KEYS customers) through a route with `ordering: none`, `key` and `partition`.
  No worker runs, so every job after the first of its key waits in the deferred registry: the daemon's
  dearest case (each such job is three more writes and a chain lookup). The Redis commands per job of
  these rows are karafkad's own (INFO commandstats, less the benchmark's checks). After the `key` row,
  what a waiting job and a chain entry cost in Redis's memory (`waiting_key_memory`).
- End to end (`--only ordering`): messages produced -> handler finished with ORDERING_WORKERS
  `karafkad worker --no-fork` processes (one pool, `--processes 4`; its workers move the jobs a finished
  job made ready themselves, store/ready.py) for each ordering on the same keyed data; and a batch route
  (BATCH) with one `--no-fork` worker, in messages a second.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from statistics import mean
from typing import Any

from benchlib.daemons import karafkad_run
from benchlib.workers import end_to_end_run
from karafkad.store.keys import CHAIN_FIELD, CHAIN_PREFIX, deferred_key, dependencies_key, dependents_key, job_key

Step = tuple[str, str, str, Callable[[], dict[str, Any]]]

ORDERING_KEYS = 1000
"""Customers the keyed messages are drawn from: ~125 chains per partition of 8, each a few hundred messages
long at 200,000 messages (so a chain hash stays a listpack: Redis's hash-max-listpack-entries is 128)."""
ORDERINGS = ("none", "key", "partition")
ORDERING_WORKERS = 4
"""Issue 19's setup: four --no-fork workers, more than one, so the order is RQ's dependencies' doing."""
BATCH = {"max_messages": 500, "max_wait": 1}
"""Issue 19's batch route: jobs of up to 500 messages, gathered for at most a second."""
MEMORY_SAMPLE = 200
"""Waiting jobs whose keys are measured one by one (MEMORY USAGE each); the figures are their mean."""
WAITING_FIELDS = (CHAIN_FIELD, "dependency_id", "dependency_ids")
"""What an ordered route's waiting job hash holds that an unordered route's job does not."""


def cpu_key(ordering: str) -> str:
    return f"karafkad_keyed_{ordering}"


def e2e_key(ordering: str) -> str:
    return f"e2e_{ordering}"


CPU_ORDERING_ROWS = tuple(cpu_key(o) for o in ORDERINGS)
E2E_ORDERING_ROWS = tuple(e2e_key(o) for o in ORDERINGS)
E2E_BATCH_ROW = "e2e_batch"


def cpu_steps(count: int, passing: int, workdir: Path) -> list[Step]:
    """The CPU-per-message rows of one consumer thread on keyed messages, by ordering."""
    def step(ordering: str) -> Callable[[], dict[str, Any]]:
        inspect = waiting_key_memory if ordering == "key" else None
        return lambda: karafkad_run(count, passing, workdir, 1, 1, keys=ORDERING_KEYS, route={"ordering": ordering},
                                    inspect=inspect)

    return [(f"karafkad, 1 thread, {ORDERING_KEYS:,} keys, ordering: {o}", cpu_key(o), "msgs/s", step(o))
            for o in ORDERINGS]


def end_to_end_steps(worker_messages: int, batch_messages: int, workdir: Path) -> list[Step]:
    """The end-to-end rows: each ordering with four --no-fork workers, and the batch route with one."""
    def ordered(ordering: str) -> Callable[[], dict[str, Any]]:
        return lambda: end_to_end_run(worker_messages, workdir, ORDERING_WORKERS, False, keys=ORDERING_KEYS,
                                      route={"ordering": ordering})

    steps: list[Step] = [(f"end to end, {ORDERING_WORKERS} --no-fork workers, ordering: {o}", e2e_key(o), "jobs/s",
                          ordered(o)) for o in ORDERINGS]
    steps.append((f"end to end, 1 --no-fork worker, batch {BATCH}", E2E_BATCH_ROW, "msgs/s",
                  lambda: end_to_end_run(batch_messages, workdir, 1, False, keys=ORDERING_KEYS,
                                         route={"batch": BATCH})))
    return steps


def waiting_key_memory(client: Any, queue: str) -> dict[str, Any]:
    """What a waiting job and a chain entry cost in Redis's memory (MEMORY USAGE ... SAMPLES 0: every element
    counted), read after an ordered row whose jobs all wait: the chain hash's field per key (as written here,
    and the same fields in one hash past Redis's listpack limit, as with more keys per partition), and per
    waiting job its entry in the job it waits for's dependents set, its own dependencies set, its deferred
    registry entry, and the fields its hash has that an unordered job's has not."""
    chains = list(client.scan_iter(match=CHAIN_PREFIX + "*", count=1000))
    fields = sum(int(client.hlen(chain)) for chain in chains)
    chain_bytes = sum(int(client.memory_usage(chain, samples=0)) for chain in chains)
    copy = "karafkad-bench:chains"  # every chain's fields in one hash: past hash-max-listpack-entries
    for chain in chains:
        client.hset(copy, mapping=client.hgetall(chain))
    one_hash = {"fields": int(client.hlen(copy)), "bytes": int(client.memory_usage(copy, samples=0)),
                "encoding": client.object("encoding", copy).decode()}
    client.delete(copy)
    registry = deferred_key(queue)
    waiting = [job_id.decode() for job_id in client.zrange(registry, 0, MEMORY_SAMPLE - 1)]
    parents = [client.hget(job_key(job_id), "dependency_id").decode() for job_id in waiting]
    dependents = [int(client.memory_usage(dependents_key(parent), samples=0)) for parent in parents]
    dependencies = [int(client.memory_usage(dependencies_key(job_id), samples=0)) for job_id in waiting]
    return {"chain_hashes": len(chains), "chain_fields": fields,
            "chain_encoding": client.object("encoding", chains[0]).decode() if chains else "",
            "chain_bytes_per_field": chain_bytes / fields if fields else 0.0,
            "chain_one_hash": {**one_hash, "bytes_per_field": one_hash["bytes"] / max(one_hash["fields"], 1)},
            "sampled_waiting_jobs": len(waiting),
            "dependents_set_bytes": mean(dependents) if dependents else 0.0,
            "dependents_members": mean(int(client.scard(dependents_key(p))) for p in parents) if parents else 0.0,
            "dependents_encoding": client.object("encoding", dependents_key(parents[0])).decode() if parents else "",
            "dependencies_set_bytes": mean(dependencies) if dependencies else 0.0,
            "deferred_registry_bytes_per_entry": int(client.memory_usage(registry, samples=0)) / max(
                int(client.zcard(registry)), 1),
            "deferred_registry_entries": int(client.zcard(registry)),
            "job_hash_extra_bytes": mean(_extra_fields_bytes(client, job_id) for job_id in waiting) if waiting else 0.0}


def _extra_fields_bytes(client: Any, job_id: str) -> int:
    """The bytes a waiting job's hash holds for its chain and its dependency (a copy, less those fields)."""
    copy = "karafkad-bench:job"
    client.restore(copy, 0, client.dump(job_key(job_id)), replace=True)
    whole = int(client.memory_usage(copy, samples=0))
    client.hdel(copy, *WAITING_FIELDS)
    less = int(client.memory_usage(copy, samples=0))
    client.delete(copy)
    return whole - less
