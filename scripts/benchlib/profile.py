"""Where a karafkad daemon's CPU goes while it consumes a backlog: py-spy, from joined to all consumed.

The daemon (one process, the benchmark's route, `threads` consumer threads) joins a fresh topic, is
stopped while the topic is filled, and py-spy attaches as it is continued, exactly the window the
CPU-per-message rows measure (benchlib.cpu.consume_backlog). py-spy samples with `--gil`: only the
thread holding the interpreter lock, so a thread waiting on a socket or on another thread counts for
nothing and the shares are where the Python CPU goes (C code that keeps the lock, such as orjson or
jsonschema-rs, is counted in the Python function that called it). The raw samples are written for a
flame graph (one stack per line, `flamegraph.pl` reads them); the summary prints each thread's share
and the functions that take the most, by themselves and with what they call.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from benchlib.cpu import wait_until
from benchlib.daemons import BIN, start_daemons
from benchlib.data import create_topic, fill, make_messages, redis, routes_file, unique
from karafkad.store.keys import queue_key

SAMPLES_PER_SECOND = 250


def profile_run(count: int, workdir: Path, threads: int, output: Path) -> dict[str, Any]:
    """py-spy one daemon over a backlog of `count` messages; the raw samples go to `output`."""
    spy = BIN / "py-spy"
    if not spy.exists():
        raise SystemExit(f"{spy} is missing: `{BIN / 'pip'} install py-spy` (scripts/bootstrap installs it)")
    topic, group, queue = unique("prof"), unique("prof"), unique("prof")
    create_topic(topic)
    values, passing = make_messages(count)
    config = routes_file(workdir, group, topic, queue, threads)
    [daemon] = start_daemons(config, 1, workdir, group)
    watcher = redis()
    try:
        time.sleep(1)  # the member settles before it is stopped (as in benchlib.cpu.consume_backlog)
        os.kill(daemon.pid, signal.SIGSTOP)
        try:
            fill(topic, values, workdir)
            time.sleep(1)
            output.parent.mkdir(parents=True, exist_ok=True)
            recorder = subprocess.Popen([str(spy), "record", "--pid", str(daemon.pid), "--gil", "--threads",
                                         "--rate", str(SAMPLES_PER_SECOND), "--format", "raw", "--output",
                                         str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.5)  # attached before the daemon runs again
        finally:
            os.kill(daemon.pid, signal.SIGCONT)
        started = time.monotonic()
        wait_until(lambda: watcher.llen(queue_key(queue)) >= passing, f"karafkad (logs in {workdir})", 900)
        seconds = time.monotonic() - started
        recorder.send_signal(signal.SIGINT)  # py-spy writes its samples and exits
        _, errors = recorder.communicate(timeout=60)
        if recorder.returncode != 0 or not output.exists():
            raise SystemExit(f"py-spy failed: {errors.decode(errors='replace').strip()}")
    finally:
        daemon.stop()
    return {"messages": count, "threads": threads, "seconds": seconds, "output": str(output),
            **summary(output)}


def summary(path: Path, top: int = 25) -> dict[str, Any]:
    """Each thread's share of the samples, and the functions taking the most (self and inclusive), from
    py-spy's raw output (`thread (id);frame;frame;... count` per line)."""
    threads: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    within: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = stack.split(";")
        count = int(samples)
        total += count
        threads[_thread(frames[0])] += count
        functions = [_function(frame) for frame in frames[1:]]
        if functions:
            own[functions[-1]] += count
        for function in set(functions):
            within[function] += count

    def shares(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(name, count / total) for name, count in counter.most_common(top)] if total else []

    return {"samples": total, "by_thread": shares(threads), "self": shares(own), "inclusive": shares(within)}


def _thread(frame: str) -> str:
    """`thread (0x7f..): "consumer-orders-0-writer_0"` -> `consumer-*-0-writer` (one name per kind of thread)."""
    name = frame.split(":", 1)[-1].strip().strip('"')
    name = re.sub(r"^consumer-.*-(\d+)(-writer)?(_\d+)?$", r"consumer-*-\1\2", name)
    return re.sub(r"^kafka-io-.*-(\d+)$", r"kafka-io-*-\1", name) or "main"


def _function(frame: str) -> str:
    """`Pipeline.process (/abs/path/karafkad/pipeline/steps.py:120)` -> `Pipeline.process (pipeline/steps.py)`."""
    frame = re.sub(r" \(.*?(?:site-packages|daemon/karafkad)/", " (", frame)
    return re.sub(r":\d+\)$", ")", frame)


def print_summary(result: dict[str, Any]) -> None:
    print(f"\nprofile: {result['messages']:,} messages, {result['threads']} consumer thread(s), "
          f"{result['seconds']:.1f} s, {result['samples']:,} samples with the interpreter lock held "
          f"(py-spy --gil, {SAMPLES_PER_SECOND}/s); raw samples in {result['output']}")
    for title, key in (("threads", "by_thread"), ("functions, by themselves", "self"),
                       ("functions, with what they call", "inclusive")):
        print(f"\n{title}")
        for name, share in result[key]:
            print(f"  {share * 100:5.1f}%  {name}")
