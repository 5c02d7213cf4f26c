"""A three-broker cluster's everyday faults, under continuous load: nothing lost, no job twice, commits never ahead.

The cluster is scripts/kafka-cluster (three KRaft nodes on loopback,
replication factor 3, min.insync.replicas 2). kcat produces numbered
messages at a steady rate (idempotently, so each number is in the topic
once, spread over every partition); one message in ten breaks the route's
schema and must become a dead letter, acknowledged by the in-sync replicas.
While a broker is killed or restarted, a CommitAuditor samples that no
committed offset runs ahead of the jobs and dead letters, and a CommitMeter
times the recovery. At the end every message number is checked: exactly one
job, or exactly the dead letter it was meant to be.

Recovery times are recorded, never asserted (the machine is shared): see
the "recovery times" section pytest prints, and docs/guarantees.md.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cluster import NODES, Cluster, CommitMeter
from harness import (
    CommitAuditor,
    Daemon,
    Load,
    committed_offsets,
    outcomes_by_message,
    routes_yaml,
    script,
    unique,
    wait_for,
    wait_until_consumed,
)

RATE = 300
"""Messages a second: a steady stream on every partition that leaves the two cores room for three brokers."""
PARTITIONS = 6
DOWN_SECONDS = 10
"""How long a killed node stays down (more than the 4 s after which the cluster fences it)."""
FROZEN_SECONDS = 40
"""Longer than kafka-python's default request timeout and the dead-letter producer's delivery timeout (30 s
each): whatever waits for the frozen node runs out of time while it is frozen."""
ROUTE = "busy"
SCHEMA = {"type": "object", "required": ["n", "v"], "properties": {"n": {"type": "integer"}, "v": {"type": "string"}}}
KCAT_OPTIONS = ("enable.idempotence=true", "sticky.partitioning.linger.ms=0", "socket.timeout.ms=5000")
"""Each number is written once, even when kcat retries across a leader change; every message picks its own
partition (kcat's sticky partitioner would put a whole batch on one); a request to a frozen node is given
up after 5 s, so the load goes on once the cluster has moved its leaderships."""


def message(n: int) -> str:
    """n % 10 == 7 breaks the schema (a dead letter); the others become jobs."""
    return json.dumps({"n": n, "v": 1 if n % 10 == 7 else f"value {n}"})


def fate(n: int) -> str:
    return "dead letter" if n % 10 == 7 else "job"


@pytest.fixture
def cluster(kafka_cluster: Cluster) -> Iterator[Cluster]:
    """The session's cluster, whole again after each test (a failed test may leave a node down)."""
    kafka_cluster.heal()
    yield kafka_cluster
    kafka_cluster.heal()


@dataclass
class LoadedGroup:
    """A consumer group of karafkad processes on a loaded topic, with the auditor and the meter beside it."""

    cluster: Cluster
    group: str
    topic: str
    dead: str
    queue: str
    load: Load
    auditor: CommitAuditor
    meter: CommitMeter
    daemons: list[Daemon] = field(default_factory=list)

    @classmethod
    def start(cls, cluster: Cluster, tmp_path: Path, group: str, *, leaders: list[int] | None = None,
              daemons: int = 1, threads: int = 2, spare: int | None = None) -> LoadedGroup:
        """Topics (the dead-letter one with a partition led by each node), the load, the daemons (ready),
        the auditor and the meter; returns once the group is consuming steadily. The daemons know every
        node; the test's own clients (the load, the auditor, the meter) leave out node `spare`, the one
        that will freeze, so that they measure the daemons and not their own wait for it."""
        bootstrap = cluster.bootstrap_without(spare)
        topic = cluster.topic(unique("busy"), PARTITIONS, leaders)
        dead = cluster.topic(unique("dead"), len(NODES))
        queue = unique("q")
        config = tmp_path / "routes.yaml"
        config.write_text(routes_yaml({group: {"threads": threads, "routes": [{
            "name": ROUTE, "topic": topic, "handler": "effects.record", "queue": queue, "schema": SCHEMA,
            "dead_letter": dead}]}}, extra={"kafka": {"bootstrap_servers": cluster.bootstrap}}))
        load = Load(topic, batch=RATE // 10, message=message, rate=RATE, bootstrap=bootstrap,
                    kcat_options=KCAT_OPTIONS).start()
        run = cls(cluster, group, topic, dead, queue, load,
                  CommitAuditor(topic, group, queue, ROUTE, dead_letters=dead, bootstrap=bootstrap),
                  CommitMeter(topic, group, bootstrap))
        run.daemons = [Daemon(config).start() for _ in range(daemons)]
        for daemon in run.daemons:
            daemon.wait_ready(120)
        run.auditor.start()
        run.meter.start()
        wait_for(lambda: len(committed_offsets(group, topic, bootstrap)) == PARTITIONS, 60,
                 "every partition has a commit")
        time.sleep(3)
        return run

    def finish(self) -> dict[str, object]:
        """Stop the load, let the group consume everything, stop the daemons (exit 0), check every message."""
        bootstrap = self.meter.bootstrap
        time.sleep(3)  # the load goes on a little past the last fault
        self.load.stop()
        wait_until_consumed(self.daemons[0], self.topic, self.group, timeout=180, bootstrap=bootstrap)
        self.meter.stop()
        self.auditor.stop()  # asserts: samples taken, no commit ever ahead of a job or dead letter
        for daemon in self.daemons:
            assert daemon.stop() == 0, daemon.logs()[-5000:]
        result = outcomes_by_message(self.topic, self.dead, self.group, self.queue, ROUTE, fate, bootstrap)
        assert result["repeated_in_topic"] == [], "kcat wrote a number twice: the check by number would be unsound"
        assert result["lost"] == [], f"lost: {result['lost'][:20]}"
        assert result["duplicated"] == [], f"two jobs: {result['duplicated'][:20]}"
        assert result["wrong_outcome"] == [], f"jobs for dead letters: {result['wrong_outcome'][:20]}"
        assert int(str(result["produced"])) > 10 * RATE
        return result

    def standstill(self, since: float, until: float) -> str:
        """The longest a partition's commits stood still around `since`..`until`, and its writes (the
        cluster's and kcat's part: a message not yet written cannot be consumed)."""
        meter = self.meter
        return (f"partitions stood still at most {meter.standstill(since, until):.1f} s "
                f"(their writes {meter.standstill(since, until, written=True):.1f} s)")

    def catch_up(self, moment: float) -> str:
        """From `moment` until the group had committed everything the topic held then (the first end offsets
        sampled from `moment` on: scripts/chaos's measure)."""
        ends = next((s.offsets for s in self.meter.ends if s.at >= moment), None)
        return _seconds(None if ends is None else self.meter.caught_up(ends, moment))


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def _record(record_property: Callable[[str, object], None], text: str, result: dict[str, object]) -> None:
    line = f"{text}; {result['produced']} messages, {result['jobs']} jobs, {result['dead_letters']} dead letters"
    print(line)
    record_property("recovery", line)


@dataclass(frozen=True)
class KillCycle:
    """One node killed and brought back: the moments (time.monotonic()) that time its recovery."""

    node: int
    struck: float
    moved: float
    """When the cluster had moved the node's work (leaderships, the coordinator)."""
    restarted: float
    """When `scripts/kafka-cluster start-node` was run."""
    back: float
    """When the node served again."""
    elected: float

    def describe(self, run: LoadedGroup) -> str:
        """What it took (once the meter has seen the recovery, that is after LoadedGroup.finish)."""
        return (f"moved in {self.moved - self.struck:.1f} s, {run.standstill(self.struck, self.moved)}; node "
                f"serving again {self.back - self.restarted:.1f} s after its start, caught up "
                f"{run.catch_up(self.back)} later; after the election in {run.catch_up(self.elected)}")


def _kill_and_bring_back(run: LoadedGroup, node: int, moved: Callable[[], bool], down: float) -> KillCycle:
    """kill -9 `node`, wait until `moved`, keep it down `down` seconds in all, restart it, wait for full ISRs,
    elect the preferred leaders (its leaderships go back to it: one more move under load)."""
    cluster = run.cluster
    struck = time.monotonic()
    cluster.kill(node)
    wait_for(moved, 60, f"the cluster has moved node {node}'s work")
    failover = time.monotonic()
    time.sleep(max(0.0, down - (failover - struck)))
    restarted = time.monotonic()
    cluster.start_node(node)
    back = time.monotonic()
    cluster.wait_isr()
    elected = time.monotonic()
    script("kafka-cluster", "elect")
    return KillCycle(node, struck, failover, restarted, back, elected)


def test_killing_the_partition_leader_under_load_loses_and_doubles_nothing(
        cluster: Cluster, tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    """kill -9 of the node leading four of the topic's six partitions (and a dead-letter partition), under
    load, then its restart and the leaderships moved back: every message is one job or its dead letter,
    and no commit ever ran ahead of them."""
    group = unique("g")
    coordinator = cluster.coordinator(group)
    victim, other = sorted(set(NODES) - {coordinator})  # not the coordinator: this fault is the leader's alone
    run = LoadedGroup.start(cluster, tmp_path, group, leaders=[victim, victim, other, victim, coordinator, victim])
    cycle = _kill_and_bring_back(run, victim, lambda: not cluster.led_by(run.topic, victim), DOWN_SECONDS)
    result = run.finish()
    _record(record_property, f"leader kill: leaders {cycle.describe(run)}", result)


def test_killing_the_group_coordinator_under_load_loses_and_doubles_nothing(
        cluster: Cluster, tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    """kill -9 of the node coordinating the group (two karafkad processes in it), under load, then its
    restart and the coordinator moved back: every message is one job or its dead letter, and no commit
    ever ran ahead of them."""
    group = unique("g")
    victim = cluster.coordinator(group)
    one, two = sorted(set(NODES) - {victim})
    # The topic's partitions are led by the other two nodes: this fault is the coordinator's alone.
    run = LoadedGroup.start(cluster, tmp_path, group, leaders=[one, two] * (PARTITIONS // 2), daemons=2, threads=1)
    cycle = _kill_and_bring_back(run, victim, lambda: cluster.coordinator_now(group) not in (victim, None),
                                 DOWN_SECONDS)
    result = run.finish()
    _record(record_property, f"coordinator kill: coordinator {cycle.describe(run)}", result)


def test_a_rolling_restart_of_all_three_brokers_under_load_loses_and_doubles_nothing(
        cluster: Cluster, tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    """`scripts/kafka-cluster rolling` (each node stopped and started once the ISRs are full, then the
    preferred leaders elected) under load: every message is one job or its dead letter, and no commit ever
    ran ahead of them."""
    run = LoadedGroup.start(cluster, tmp_path, unique("g"))
    started = time.monotonic()
    script("kafka-cluster", "rolling", timeout=600)
    done = time.monotonic()
    result = run.finish()
    _record(record_property, f"rolling restart in {done - started:.0f} s: {run.standstill(started, done)}; "
            f"caught up {run.catch_up(done)} after the roll", result)


@pytest.mark.soak
def test_a_partition_leader_that_stops_answering_under_load_loses_and_doubles_nothing(
        cluster: Cluster, tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    """The node leading four of the six partitions and a dead-letter partition frozen for 40 s under load
    (SIGSTOP: no answers, its connections left open, as when a machine is lost), then thawed. Clients
    notice only when a request times out, and the dead letters sent to it meanwhile, by both consumer
    threads, must reach its successor or be sent again: every message is one job or its dead letter, and
    no commit ever ran ahead of them (opt-in: pytest --soak; the ten-second request timeouts it relies on
    are pinned by tests/unit/clients/kafka/test_consumers.py and tests/unit/test_producer.py)."""
    group = unique("g")
    coordinator = cluster.coordinator(group)
    victim, other = sorted(set(NODES) - {coordinator})
    run = LoadedGroup.start(cluster, tmp_path, group, leaders=[victim, victim, other, victim, coordinator, victim],
                            spare=victim)
    struck = time.monotonic()
    cluster.freeze(victim)
    try:
        wait_for(lambda: not cluster.led_by(run.topic, victim), 60, f"node {victim}'s partitions have new leaders")
        moved = time.monotonic()
        time.sleep(max(0.0, FROZEN_SECONDS - (moved - struck)))
    finally:
        cluster.thaw(victim)
    thawed = time.monotonic()
    cluster.wait_isr()
    result = run.finish()
    _record(record_property, f"leader frozen: leaders moved in {moved - struck:.1f} s, "
            f"{run.standstill(struck, thawed)}; caught up {run.catch_up(thawed)} after the thaw", result)


@pytest.mark.soak
def test_killing_any_node_again_and_again_under_load_loses_and_doubles_nothing(
        cluster: Cluster, tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    """Eight kill -9s of a random node (a leader, often the coordinator too), each down 3 to 10 s and brought
    back, with two karafkad processes under load: every message is one job or its dead letter, and no commit
    ever ran ahead of them (opt-in: pytest --soak)."""
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    group = unique("g")
    run = LoadedGroup.start(cluster, tmp_path, group, daemons=2)
    cycles = []
    for _ in range(8):
        victim = rng.choice(NODES)
        roles = "coordinator and leader" if cluster.coordinator_now(group) == victim else "leader"

        def moved(node: int = victim) -> bool:
            return not cluster.led_by(run.topic, node) and cluster.coordinator_now(group) not in (node, None)

        cycles.append((roles, _kill_and_bring_back(run, victim, moved, rng.uniform(3, 10))))
        time.sleep(rng.uniform(1, 5))
    result = run.finish()
    _record(record_property, f"random kills (seed {seed}):" + "".join(f"\n  node {c.node} ({roles}): {c.describe(run)}"
                                                        for roles, c in cycles), result)
