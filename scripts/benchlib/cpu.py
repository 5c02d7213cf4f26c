"""Process CPU time, read the same way for every consuming row, and the backlog procedure those rows share.

Every consumer measured here (raw kafka-python, the obvious loop, karafkad daemons) is a process of
its own, so its CPU is read from outside the same way: user + system time of the whole process
(every thread) from /proc/PID/stat, once when it has joined its group and once when everything is
consumed. The kernel reports it in clock ticks (10 ms here), so a figure is good to about one tick
per process: the resolution is printed with it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib.data import STATE_DIR

TICK_SECONDS = 1 / os.sysconf("SC_CLK_TCK")
JOIN_SECONDS = 90
"""How long consumers may take to join their group before the run is given up."""
CONSUME_SECONDS = 900
"""How long a backlog may take to be consumed before the run is given up."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far, all its threads (utime and stime, fields 14 and 15)."""
    # The command name (field 2) is in parentheses and may hold spaces: split after its closing one.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_SECONDS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


def service_cpu(name: str) -> float:
    """CPU seconds used so far by the broker or Redis that scripts/bench started (from its pid file)."""
    try:
        return cpu_seconds(int((STATE_DIR / "pids" / f"{name}.pid").read_text()))
    except (OSError, ValueError):
        return 0.0


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (all processes, the kernel, interrupts), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:7]) - idle) * TICK_SECONDS  # not steal: time another guest had


@dataclass(frozen=True)
class Backlog:
    """What consuming one backlog cost: the consumers' own CPU, and what else the machine did meanwhile."""

    messages: int
    processes: int
    wall_seconds: float
    cpu_seconds: float  # the consumer processes together, joined -> all consumed
    broker_seconds: float
    redis_seconds: float
    machine_busy_seconds: float

    def fields(self) -> dict[str, float]:
        """The CPU figures of a row, as printed and written to the JSON output."""
        per_message = self.cpu_seconds / self.messages * 1e6
        # Each process's figure is the difference of two readings in whole ticks: up to a tick off.
        resolution = self.processes * TICK_SECONDS / self.messages * 1e6
        return {"cpu_seconds": self.cpu_seconds, "cpu_us_per_message": per_message,
                "cpu_us_per_message_resolution": resolution, "wall_seconds": self.wall_seconds}

    def shares(self, consumer: str) -> dict[str, Any]:
        """CPU seconds per party while the backlog was consumed (`consumer`: what to call the consumers),
        and how many cores they and the whole machine kept busy."""
        wall = self.wall_seconds or float("inf")
        by_process = {consumer: self.cpu_seconds, "broker": self.broker_seconds, "redis": self.redis_seconds}
        return {"cpu_seconds_by_process": by_process, "cores_busy": sum(by_process.values()) / wall,
                "machine_cores_busy": self.machine_busy_seconds / wall}


def consume_backlog(pids: list[int], messages: int, fill: Callable[[], None], consumed: Callable[[], bool],
                    what: str, redis_names: tuple[str, ...] = ("redis",)) -> Backlog:
    """Stop the consumers (joined, on an empty topic), fill the topic, continue them together, and measure
    until `consumed()` says everything is.

    So every row consumes a backlog: neither the group join, nor a rebalance a second member causes,
    nor a producer competing for the same two cores is in its figures. Stopped processes use no CPU,
    so the reading taken just before they continue is their CPU at "joined". `consumed` is called in a
    loop and should wait about a tenth of a second itself when the answer is no (the wait is the
    precision of the end reading). The groups' session timeout (45 s) outlasts the fill. `redis_names`:
    the pid files of the Redis processes whose CPU counts as Redis's (a primary and its replica).
    """
    time.sleep(1)  # the members settle (fetch positions, the first empty fetches) before they are stopped
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        fill()
        time.sleep(1)  # the broker's own work for the fill (flushes) settles before CPU is counted
    except BaseException:
        for pid in pids:  # never leave a stopped process behind
            os.kill(pid, signal.SIGCONT)
        raise
    cpu_start = sum(cpu_seconds(pid) for pid in pids)
    broker_start, redis_start = service_cpu("kafka"), sum(map(service_cpu, redis_names))
    wall_start, machine_start = time.monotonic(), machine_busy_seconds()
    for pid in pids:
        os.kill(pid, signal.SIGCONT)
    deadline = wall_start + CONSUME_SECONDS
    while not consumed():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not consumed after {CONSUME_SECONDS} s")
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_start
    wall = time.monotonic() - wall_start
    return Backlog(messages, len(pids), wall, cpu, service_cpu("kafka") - broker_start,
                   sum(map(service_cpu, redis_names)) - redis_start, machine_busy_seconds() - machine_start)


def wait_until(joined: Callable[[], bool], what: str, seconds: float = JOIN_SECONDS) -> None:
    """Poll `joined` every tenth of a second until it is true; give the run up after `seconds`."""
    deadline = time.monotonic() + seconds
    while not joined():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not ready after {seconds:.0f} s")
        time.sleep(0.1)
