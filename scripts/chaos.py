"""Fault injection with a loss and duplicate checker (run through scripts/chaos, or its short test).

Produces uniquely numbered messages continuously while injecting faults from a
random schedule: kill -9 the daemon, SIGTERM it, SIGSTOP/SIGCONT it, stop and
start Redis, freeze Redis (SIGSTOP), restart the broker, start and stop a
second instance, reload the routes. Then it heals, drains and checks with sets:

  lost       = produced - (jobs | dead letters | filtered)
  duplicated = messages that became more than one job

and, sampled throughout, that committed offsets never run ahead of the jobs
and dead letters written. It prints a table per fault kind: injected,
messages produced meanwhile, lost, duplicated, longest recovery.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import harness  # noqa: E402 - the integration tests' real-service helpers
from waiting import wait_for  # noqa: E402 - beside the harness

FAULTS = ("kill -9", "SIGTERM", "SIGSTOP/SIGCONT", "Redis stop/start", "Redis freeze", "broker restart",
          "second instance", "reload")
SCHEMA = {"type": "object", "required": ["n", "v"], "properties": {"n": {"type": "integer"}, "v": {"type": "string"}}}


def message(n: int) -> str:
    """n % 10 == 3 is filtered out; n % 10 == 7 fails the schema (dead letter); the rest become jobs."""
    return json.dumps({"n": n, "v": 1 if n % 10 == 7 else f"value {n}"})


def fate(n: int) -> str:
    return "filtered" if n % 10 == 3 else "dead letter" if n % 10 == 7 else "job"


@dataclass
class Outcome:
    injected: int = 0
    messages: int = 0
    recoveries: list[float] = field(default_factory=list)
    windows: list[tuple[int, int]] = field(default_factory=list)
    """Message numbers produced from the fault's start until the group caught up again."""

    def count_in(self, numbers: list[int]) -> int:
        return sum(1 for n in numbers if any(start <= n < end for start, end in self.windows))


class Chaos:
    def __init__(self, workdir: Path, seed: int, rate: int, partitions: int = 6, pace: float = 1.0) -> None:
        """`pace` scales how long each fault lasts beyond its least (1: the full ranges; the suite's short run
        uses less, every fault kind still injected)."""
        self.rng = random.Random(seed)
        self.pace = pace
        self.workdir = workdir
        self.topic = harness.create_topic(harness.unique("chaos"), partitions)
        self.dead = harness.create_topic(harness.unique("chaos-dead"))
        self.group, self.queue = harness.unique("chaos"), harness.unique("chaos")
        self.route = "chaos"
        self.config = workdir / "routes.yaml"
        self.write_routes(threads=2)
        self.load = harness.Load(self.topic, batch=max(rate // 10, 1), message=message, rate=rate).start()
        self.auditor = Auditor(self)
        self.auditor.start()
        self.primary = harness.Daemon(self.config, extra_args=["--log-level", "warning"]).start().wait_ready()
        self.outcomes: dict[str, Outcome] = defaultdict(Outcome)
        self.threads_toggle = False
        self.order: list[str] = []

    def write_routes(self, threads: int) -> None:
        # The broker's least session timeout (group.min.session.timeout.ms): a killed member's partitions wait
        # it out before they move, so each kill costs this much recovery time; 10 s made the suite's run 86 s.
        self.config.write_text(harness.routes_yaml({self.group: {"threads": threads, "session_timeout_ms": 6000,
                                                                 "routes": [{
            "name": self.route, "topic": self.topic, "handler": "effects.record", "queue": self.queue,
            "schema": SCHEMA, "filter": "params.n % 10 != 3", "dead_letter": self.dead}]}}))

    # --- faults: each returns once healed ---------------------------------------

    def hold(self, least: float, most: float) -> None:
        """Let a fault last between `least` and `most` seconds (the range scaled by the pace)."""
        time.sleep(self.rng.uniform(least, least + (most - least) * self.pace))

    def restart_primary(self) -> None:
        self.primary = harness.Daemon(self.config, extra_args=["--log-level", "warning"]).start().wait_ready(120)

    def kill_9(self) -> None:
        self.primary.kill()
        self.hold(0.5, 3)
        self.restart_primary()

    def sigterm(self) -> None:
        code = self.primary.stop(timeout=60)
        if code != 0:
            raise AssertionError(f"SIGTERM drain exited {code}")
        self.restart_primary()

    def sigstop(self) -> None:
        self.primary.signal(signal.SIGSTOP)
        self.hold(2, 15)  # longer than the session timeout (6 s) sometimes: evicted, then rejoins
        self.primary.signal(signal.SIGCONT)

    def redis_stop(self) -> None:
        harness.script("redis", "stop")
        self.hold(2, 12)
        harness.script("redis", "start")

    def redis_freeze(self) -> None:
        harness.script("redis", "freeze")
        self.hold(2, 10)
        harness.script("redis", "thaw")

    def broker_restart(self) -> None:
        harness.script("kafka", "stop")
        self.hold(1, 5)
        harness.script("kafka", "start")

    def second_instance(self) -> None:
        second = harness.Daemon(self.config, extra_args=["--log-level", "warning"]).start().wait_ready(120)
        self.hold(3, 12)
        if self.rng.random() < 0.5:
            second.stop(timeout=60)
        else:
            second.kill()

    def reload(self) -> None:
        self.threads_toggle = not self.threads_toggle
        self.write_routes(threads=3 if self.threads_toggle else 2)  # a consumer setting: the group restarts
        self.primary.signal(signal.SIGHUP)
        time.sleep(2)

    def actions(self) -> dict[str, Callable[[], None]]:
        return {"kill -9": self.kill_9, "SIGTERM": self.sigterm, "SIGSTOP/SIGCONT": self.sigstop,
                "Redis stop/start": self.redis_stop, "Redis freeze": self.redis_freeze,
                "broker restart": self.broker_restart, "second instance": self.second_instance,
                "reload": self.reload}

    # --- the run ------------------------------------------------------------------

    def run(self, seconds: float, calm: tuple[float, float]) -> None:
        deadline = time.monotonic() + seconds
        actions = self.actions()
        while time.monotonic() < deadline:
            if not self.order:  # every kind once per round, in a random order
                self.order = list(FAULTS)
                self.rng.shuffle(self.order)
            kind = self.order.pop()
            produced_before = self.load.next
            print(f"  {time.strftime('%H:%M:%S')} {kind}", flush=True)
            actions[kind]()
            healed = time.monotonic()
            self.wait_caught_up(timeout=240)
            outcome = self.outcomes[kind]
            outcome.injected += 1
            outcome.recoveries.append(time.monotonic() - healed)
            outcome.messages += self.load.next - produced_before
            outcome.windows.append((produced_before, self.load.next))
            time.sleep(self.rng.uniform(*calm))

    def wait_caught_up(self, timeout: float) -> None:
        """Until the group has committed what the topic held when the fault was healed."""
        from kafka.errors import KafkaError

        target: dict[int, int] = {}

        def caught_up() -> bool:
            try:
                if not target:
                    target.update(harness.end_offsets(self.topic))
                committed = harness.committed_offsets(self.group, self.topic)
            except KafkaError:  # the broker is still restarting or its coordinator loading
                return False
            return all(committed.get(p, 0) >= o for p, o in target.items())

        wait_for(caught_up, timeout, "the group catches up", interval=0.5)

    def finish(self) -> dict[str, Any]:
        self.load.stop()
        harness.wait_until_consumed(self.primary, self.topic, self.group, timeout=300)
        self.auditor.stop()
        self.primary.stop(timeout=60)
        return check(self.topic, self.dead, self.group, self.queue, self.route, self.auditor.violations)


class Auditor(harness.Sampler):
    """Samples that a committed offset never runs ahead of what became a job or a dead letter (or was filtered)."""

    def __init__(self, chaos: Chaos) -> None:
        super().__init__("auditor", interval=2.0)
        self.chaos = chaos
        self.violations: list[str] = []
        self.prefix = harness.job_prefix(chaos.group, chaos.topic, chaos.route)
        self.checked: dict[int, int] = {}

    def sample(self) -> None:
        committed = harness.committed_offsets(self.chaos.group, self.chaos.topic)
        jobs = set(harness.job_ids(self.chaos.queue))
        letters = harness.dead_letter_origins(self.chaos.dead, timeout=30)
        messages = harness.topic_messages(self.chaos.topic)

        def proven(partition: int, offset: int) -> bool:
            n = messages.get((partition, offset))
            return (n is not None and fate(n) == "filtered") or f"{self.prefix}-{partition}-{offset}" in jobs \
                or (partition, offset) in letters

        unproven = harness.first_unproven(committed, self.checked, proven)
        for partition, offset in committed.items():
            if partition in unproven:
                o = unproven[partition]
                self.violations.append(f"committed {partition}@{offset} ahead of offset {o} "
                                       f"(n={messages.get((partition, o))})")
            else:
                self.checked[partition] = max(self.checked.get(partition, 0), offset)


def check(topic: str, dead: str, group: str, queue: str, route: str, violations: list[str]) -> dict[str, Any]:
    return {**harness.outcomes_by_message(topic, dead, group, queue, route, fate), "commit_violations": violations}


def report(chaos: Chaos, result: dict[str, Any]) -> str:
    lines = [f"{'fault':<18} {'injected':>8} {'messages':>9} {'lost':>5} {'duplicated':>10} {'longest recovery':>17}"]
    for kind in FAULTS:
        o = chaos.outcomes.get(kind, Outcome())
        longest = f"{max(o.recoveries):.1f} s" if o.recoveries else "-"
        lines.append(f"{kind:<18} {o.injected:>8} {o.messages:>9} {o.count_in(result['lost']):>5} "
                     f"{o.count_in(result['duplicated']):>10} {longest:>17}")
    total = sum(o.injected for o in chaos.outcomes.values())
    lines.append(f"{'all':<18} {total:>8} {result['produced']:>9} {len(result['lost']):>5} "
                 f"{len(result['duplicated']):>10}")
    lines.append(f"jobs {result['jobs']}, dead letters {result['dead_letters']}, commit-ahead samples violating: "
                 f"{len(result['commit_violations'])}, wrong outcomes: {len(result['wrong_outcome'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long faults are injected (default 10)")
    parser.add_argument("--rate", type=int, default=400, help="messages produced per second (default 400)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--calm", type=float, nargs=2, default=(2.0, 6.0), metavar=("MIN", "MAX"),
                        help="seconds between a recovery and the next fault")
    parser.add_argument("--output", type=Path, help="write the result as JSON here")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    import tempfile

    # A hangup (the terminal closed) or a SIGTERM must still stop the daemons this run started (the
    # `finally` below); by default either would end Python at once and leave them running.
    for number in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(number, lambda signum, frame: sys.exit(128 + signum))
    workdir = Path(tempfile.mkdtemp(prefix="karafkad-chaos-"))
    harness.redis_client().flushall()
    print(f"chaos: seed {seed}, {args.minutes} min, {args.rate} msgs/s, work in {workdir}", flush=True)
    chaos = Chaos(workdir, seed, args.rate)
    try:
        chaos.run(args.minutes * 60, (args.calm[0], args.calm[1]))
        result = chaos.finish()
    finally:
        while harness.RUNNING:
            harness.RUNNING.pop().kill()
    text = report(chaos, result)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"seed": seed, "minutes": args.minutes, "rate": args.rate,
                                           "faults": {k: vars(v) for k, v in chaos.outcomes.items()},
                                           **result}, indent=2) + "\n")
    ok = not (result["lost"] or result["duplicated"] or result["commit_violations"] or result["wrong_outcome"])
    print("chaos: PASS" if ok else "chaos: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
