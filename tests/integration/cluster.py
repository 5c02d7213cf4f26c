"""The three-node Kafka cluster of scripts/kafka-cluster, as the fault tests drive it, and a clock for recoveries.

The nodes are real KRaft brokers on loopback (replication factor 3,
min.insync.replicas 2); every fault goes through the script (kill -9, a
clean stop, a start that waits until the node serves), so a test does what
an operator's tooling would. `CommitMeter` samples, beside a test, the
topic's end offsets and the group's committed offsets, and answers how long
the group took to commit what the topic held at a given moment.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from dataclasses import dataclass
from itertools import pairwise

from harness import Sampler, committed_offsets, create_topic, end_offsets, script, wait_for

NODES = (1, 2, 3)
REPLICATION = 3
"""Every topic of the fault tests is on all three nodes (min.insync.replicas is 2)."""


class Cluster:
    """scripts/kafka-cluster, in the test services' state folder and ports (KARAFKAD_KAFKA_PORT + 100...)."""

    def __init__(self) -> None:
        self.bootstrap = script("kafka-cluster", "bootstrap").stdout.strip()

    def bootstrap_without(self, node: int | None) -> str:
        """The bootstrap servers, leaving out `node` (None: all of them)."""
        servers = self.bootstrap.split(",")
        return ",".join(s for n, s in zip(NODES, servers, strict=True) if n != node)

    def running(self) -> set[int]:
        """The nodes whose process runs (from the script's pid files)."""
        out = script("kafka-cluster", "status", check=False).stderr
        return {n for n in NODES if f"node {n} running" in out}

    def start(self) -> None:
        script("kafka-cluster", "start", timeout=300)

    def stop(self) -> None:
        script("kafka-cluster", "stop", check=False, timeout=120)

    def kill(self, node: int) -> None:
        """SIGKILL the node's JVM: no controlled shutdown, its leaderships move once it is fenced."""
        script("kafka-cluster", "kill", str(node))

    def freeze(self, node: int) -> None:
        """SIGSTOP the node: it stops answering but its connections stay open, as when a machine is lost
        (clients notice only when their requests time out)."""
        script("kafka-cluster", "freeze", str(node))

    def thaw(self, node: int) -> None:
        script("kafka-cluster", "thaw", str(node))

    def start_node(self, node: int) -> None:
        """Start a node again and wait until it serves (it then catches up to rejoin the ISRs)."""
        script("kafka-cluster", "start-node", str(node), timeout=300)

    def wait_isr(self, seconds: int = 120) -> None:
        """Until every partition's in-sync replica set is complete again."""
        script("kafka-cluster", "wait-isr", str(seconds), timeout=seconds + 30)

    def heal(self) -> None:
        """Every node running (none frozen) and every ISR full, whatever a test left behind."""
        for node in sorted(self.running()):
            self.thaw(node)
        for node in sorted(set(NODES) - self.running()):
            self.start_node(node)
        self.wait_isr()

    def coordinator(self, group: str) -> int:
        """The node that coordinates `group` (it leads the group's __consumer_offsets partition; the brokers
        place a group there before it exists)."""
        return int(script("kafka-cluster", "coordinator", group).stdout.strip())

    def leaders(self, topic: str) -> dict[int, int]:
        """Partition -> the node leading it (-1: none), from the cluster metadata as kcat reads it."""
        result = subprocess.run(["kcat", "-L", "-J", "-b", self.bootstrap, "-t", topic, "-m", "10"],
                                check=True, timeout=30, capture_output=True)
        (entry,) = json.loads(result.stdout)["topics"]
        return {int(p["partition"]): int(p["leader"]) for p in entry["partitions"]}

    def led_by(self, topic: str, node: int) -> set[int]:
        """The partitions `node` leads, as far as the cluster's metadata says (unknown: all of them)."""
        try:
            return {p for p, leader in self.leaders(topic).items() if leader in (node, -1)}
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError):  # no broker answered kcat
            return {-1}

    def coordinator_now(self, group: str) -> int | None:
        """The group's coordinator, or None while none is known (its node is gone and not yet replaced)."""
        result = script("kafka-cluster", "coordinator", group, check=False)
        return int(result.stdout) if result.returncode == 0 and result.stdout.strip() not in ("", "-1") else None

    def topic(self, name: str, partitions: int, leaders: list[int] | None = None) -> str:
        """A topic on all three nodes; `leaders[p]`, when given, is partition p's preferred (first) replica."""
        assignment = None
        if leaders is not None:
            assert len(leaders) == partitions
            # Partition p's replicas: its leader first, then the other two (alternating their order).
            assignment = {p: [lead, *sorted(set(NODES) - {lead}, reverse=bool(p % 2))]
                          for p, lead in enumerate(leaders)}
        create_topic(name, partitions, replication=REPLICATION, bootstrap=self.bootstrap, assignment=assignment)
        wait_for(lambda: all(n > 0 for n in self.leaders(name).values()), 30, f"every partition of {name} has a leader")
        return name


@dataclass(frozen=True)
class Sample:
    at: float
    """time.monotonic() when the offsets were read (for end offsets: before the read; for commits: after it)."""
    offsets: dict[int, int]


class CommitMeter(Sampler):
    """Samples a topic's end offsets and a group's committed offsets, to time recoveries afterwards.

    An end-offset sample is stamped before it is read and a commit sample
    after, so a measured time is never shorter than the real one (it may be
    up to a sampling round, about half a second, longer).
    """

    def __init__(self, topic: str, group: str, bootstrap: str, interval: float = 0.25) -> None:
        super().__init__("commit-meter", interval)
        self.topic, self.group, self.bootstrap = topic, group, bootstrap
        self.ends: list[Sample] = []
        self.commits: list[Sample] = []

    def sample(self) -> None:
        """One round; a commit that cannot be read (the coordinator is moving) skips the rest of it."""
        started = time.monotonic()
        with contextlib.suppress(Exception):  # a leader is gone and not yet replaced: no end offsets this round
            self.ends.append(Sample(started, end_offsets(self.topic, self.bootstrap)))
        committed = committed_offsets(self.group, self.topic, self.bootstrap)
        self.commits.append(Sample(time.monotonic(), committed))

    def caught_up(self, target: dict[int, int], since: float) -> float | None:
        """Seconds from `since` until the group had committed `target` on every partition (None: it never did
        while the meter ran)."""
        for sample in self.commits:
            if sample.at >= since and all(sample.offsets.get(p, 0) >= o for p, o in target.items()):
                return sample.at - since
        return None

    def standstill(self, since: float, until: float, *, written: bool = False) -> float:
        """The longest any partition's committed offset (or, `written`, its end offset) stood still in a
        stretch that overlaps `since`..`until`: from the sample where it last moved to the one where it
        moved again. Under a steady load on every partition that is the fault's pause, seen end to end."""
        samples = self.ends if written else self.commits
        longest = 0.0
        for partition in {p for s in samples for p in s.offsets}:
            moves = [b.at for a, b in pairwise(samples)
                     if b.offsets.get(partition) != a.offsets.get(partition)]
            longest = max([longest, *(later - earlier for earlier, later in pairwise(moves)
                                      if later >= since and earlier <= until)])
        return longest
