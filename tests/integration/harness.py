"""What the integration tests drive: the real broker, Redis, kcat, karafkad and rq worker processes.

Nothing here fakes a service: the broker and Redis are the ones scripts/test
started (scripts/kafka, scripts/redis), messages go in through kcat, the
daemon and the workers are real subprocesses.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import redis
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from waiting import wait_for  # also the tests' (they import it from here, with the rest)

from karafkad.store.keys import queue_key

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
HANDLERS = ROOT / "tests" / "fixtures" / "handlers"
BIN = Path(sys.executable).parent
KAFKA_PORT = int(os.environ.get("KARAFKAD_KAFKA_PORT", "19092"))
REDIS_PORT = int(os.environ.get("KARAFKAD_REDIS_PORT", "16379"))
BOOTSTRAP = f"127.0.0.1:{KAFKA_PORT}"
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"
EFFECTS_ENV = {"EFFECTS_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0"}
"""Where tests/fixtures/handlers/effects.py records what ran."""
SERVICE_ENV = {
    **os.environ,
    "KARAFKAD_STATE_DIR": os.environ.get("KARAFKAD_STATE_DIR", str(ROOT / ".run" / "test")),
    "KARAFKAD_KAFKA_PORT": str(KAFKA_PORT),
    "KARAFKAD_REDIS_PORT": str(REDIS_PORT),
}


def script(name: str, *args: str, check: bool = True, timeout: float = 180,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one of the project's service scripts (scripts/kafka, scripts/redis) with SERVICE_ENV (or `env`);
    with `check`, a failure raises CalledProcessError whose message ends with what the script said."""
    result = subprocess.run([str(SCRIPTS / name), *args], env=env or SERVICE_ENV, check=False, timeout=timeout,
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ScriptFailed(result.returncode, result.args, result.stdout, result.stderr)
    return result


class ScriptFailed(subprocess.CalledProcessError):
    """A service script failed; unlike CalledProcessError, says what it printed."""

    def __str__(self) -> str:
        return f"{super().__str__()}\n{(self.stderr or '')[-2000:]}{(self.stdout or '')[-1000:]}"


def karafkad(*args: str | Path, env: dict[str, str] | None = None, stdin: str | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The `karafkad` command, as a user runs it: its exit status and output."""
    return subprocess.run([str(BIN / "karafkad"), *map(str, args)], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Forwarder:
    """A TCP forwarder on a port of its own to a service on 127.0.0.1: connections are refused until open() and
    again after close() (which also cuts those made), so a test can take a service away from a client and give
    it back in milliseconds, where a restart of the service takes seconds or a minute."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self.upstream_port = upstream_port
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []

    def open(self) -> Forwarder:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()
        return self

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the accept(): a close alone would leave it listening
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        while self._sockets:
            with contextlib.suppress(OSError):
                self._sockets.pop().close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            self._sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --- Kafka ------------------------------------------------------------------


def create_topic(name: str, partitions: int = 1, *, replication: int = 1, bootstrap: str = BOOTSTRAP,
                 assignment: dict[int, list[int]] | None = None) -> str:
    """Create a topic. For the three-node cluster (tests/integration/cluster.py): its `bootstrap`, a
    `replication` factor, or an `assignment` (partition -> broker ids, the preferred leader first)."""
    options: dict[str, Any] = {"num_partitions": partitions, "replication_factor": replication}
    if assignment is not None:
        options = {"assignments": assignment}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="karafkad-tests")
    try:
        admin.create_topics({name: options})
    finally:
        admin.close()
    wait_for(lambda: _partitions(name, bootstrap) == partitions, 30, f"topic {name} has {partitions} partitions")
    return name


def _partitions(topic: str, bootstrap: str = BOOTSTRAP) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return len(consumer.partitions_for_topic(topic) or ())
    finally:
        consumer.close()


def kcat_produce(topic: str, values: Iterable[str | bytes], *, key_separator: str | None = None,
                 partition: int | None = None, extra: Sequence[str] = (), bootstrap: str = BOOTSTRAP) -> None:
    """Produce one message per value with kcat (a client this project did not write)."""
    payload = b"".join((v.encode() if isinstance(v, str) else v) + b"\n" for v in values)
    args = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-X", "acks=all"]
    if key_separator:
        args += ["-K", key_separator]
    if partition is not None:
        args += ["-p", str(partition)]
    subprocess.run([*args, *extra], input=payload, check=True, timeout=60, capture_output=True)


def kcat_read(topic: str, fmt: str = "%s\\n", timeout: float = 30, bootstrap: str = BOOTSTRAP) -> list[str]:
    """Every message of `topic` read with kcat, formatted with kcat's -f (headers: %h)."""
    result = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-q", "-f", fmt],
                            check=True, timeout=timeout, capture_output=True)
    return result.stdout.decode("utf-8", "backslashreplace").splitlines()


def end_offsets(topic: str, bootstrap: str = BOOTSTRAP) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def committed_offsets(group: str, topic: str, bootstrap: str = BOOTSTRAP) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="karafkad-tests")
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


def committed_to_end(group: str, topic: str, bootstrap: str = BOOTSTRAP) -> bool:
    """Every partition's committed offset is its log end. A partition that never held a message
    (kcat's sticky partitioner can put a whole small run on one partition) has nothing to commit:
    no committed offset there counts as 0."""
    end, committed = end_offsets(topic, bootstrap), committed_offsets(group, topic, bootstrap)
    return set(committed) <= set(end) and all(committed.get(p, 0) == o for p, o in end.items())


# --- Redis ------------------------------------------------------------------


def redis_client() -> redis.Redis[bytes]:
    return redis.Redis.from_url(REDIS_URL)


def effects() -> dict[int, int]:
    """Message number -> how many times a handler ran for it (tests/fixtures/handlers/effects.py)."""
    return {int(k): int(v) for k, v in redis_client().hgetall("effects").items()}


def job_ids(queue: str, client: redis.Redis[bytes] | None = None) -> list[str]:
    """The ids queued on `queue`, in the test Redis (or `client`'s)."""
    return [i.decode() for i in (client or redis_client()).lrange(queue_key(queue), 0, -1)]


# --- processes --------------------------------------------------------------


def routes_yaml(groups: dict[str, Any], *, extra: dict[str, Any] | None = None) -> str:
    """A routes file for the test services, as YAML (JSON is YAML)."""
    document: dict[str, Any] = {
        "kafka": {"bootstrap_servers": BOOTSTRAP, "client_id": "karafkad-test"},
        "redis": {"url": REDIS_URL},
        "plugins": {"paths": [str(HANDLERS)]},
        "daemon": {"shutdown_timeout": 20},
        "groups": groups,
    }
    for key, value in (extra or {}).items():
        document[key] = {**document.get(key, {}), **value} if isinstance(value, dict) else value
    return json.dumps(document, indent=2)


RUNNING: list[Daemon] = []
"""Every Daemon started by the current test; conftest kills what is left when the test ends."""


class Daemon:
    """`karafkad start` as a subprocess, with its log kept in a file."""

    def __init__(self, config: Path, *, http_port: int | None = None, extra_args: Sequence[str] = (),
                 env: dict[str, str] | None = None) -> None:
        self.config = config
        self.http_port = http_port or free_port()
        self.extra_args = list(extra_args)
        self.env = {**os.environ, **(env or {})}
        self.log_path = config.parent / f"karafkad-{uuid.uuid4().hex[:6]}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            [str(BIN / "karafkad"), "start", "-c", str(self.config), "--http-port", str(self.http_port),
             "--log-format", "json", *self.extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env)
        RUNNING.append(self)
        return self

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"karafkad exited with {self.proc.returncode}:\n{self.logs()}")
        try:
            return self.get("/ready")[0] == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float = 60) -> Daemon:
        wait_for(self.ready, timeout, "karafkad is ready")
        return self

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60) -> int:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout)
        finally:
            self._log.close()
        return code

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM and wait; the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.wait(30)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stacks(self, chars: int = 8000) -> str:
        """The end of the log after a SIGUSR1 (every thread's stack), for a test that waited too long on it."""
        if self.proc is None or self.proc.poll() is not None:
            return f"(the daemon has exited: {self.proc and self.proc.returncode})\n{self.logs()[-chars:]}"
        self.signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while "most recent call first" not in self.logs().rpartition("SIGUSR1")[2] and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.logs()[-chars:]

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.logs().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def metric(self, name: str, **labels: str) -> float:
        """A sample from /metrics (summed over label sets matching `labels`)."""
        _, text = self.get("/metrics")
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


RQ_DONE = "done, quitting"
"""What a stock `rq worker --burst` logs (on stdout) once its burst is over (rq/worker/base.py), before its
teardown."""
RQ_TEARDOWN_GRACE = 3.0
"""Seconds a stock burst worker gets to exit after RQ_DONE before it is killed (see rq_worker_burst)."""


def rq_worker_burst(*queues: str, serializer: str = "json", timeout: float = 120,
                    with_scheduler: bool = False) -> subprocess.CompletedProcess[str]:
    """A stock `rq worker --burst` (not karafkad's), with the handler folder on PYTHONPATH.

    RQ 3.0's teardown sometimes waits 60 s for its pubsub thread (a race between UNSUBSCRIBE's reply and
    the thread's stop flag: 4 of 22 runs in one trial; cli/worker.py's leave_command_channel is karafkad
    worker's fix). The jobs are all done by then, so a worker still alive RQ_TEARDOWN_GRACE s after it logged
    RQ_DONE is killed and counted as having exited 0 (its output says so); a worker that never logged RQ_DONE
    keeps its own exit status."""
    # Unbuffered: RQ logs RQ_DONE to stdout, which must reach the file when it is written.
    env = {**os.environ, "PYTHONPATH": str(HANDLERS), "EFFECTS_REDIS_URL": REDIS_URL, "PYTHONUNBUFFERED": "1"}
    args = [str(BIN / "rq"), "worker", "--burst", "--url", REDIS_URL, "--serializer", serializer]
    if with_scheduler:
        args.append("--with-scheduler")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([*args, *queues], env=env, stdout=out, stderr=err, text=True)
        deadline, done_at = time.monotonic() + timeout, None
        while proc.poll() is None:
            now = time.monotonic()
            if now >= deadline:
                proc.kill()
                proc.wait()
                raise subprocess.TimeoutExpired(args, timeout)
            if done_at is None:
                out.seek(0)
                if RQ_DONE in out.read():
                    done_at = now
            elif now - done_at >= RQ_TEARDOWN_GRACE:
                proc.kill()
                proc.wait()
                err.write(f"\n(harness: killed {RQ_TEARDOWN_GRACE:g} s after {RQ_DONE!r}, in RQ's teardown)\n")
                proc.returncode = 0
                break
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())


class RqWorkers:
    """Stock `rq worker` processes (not karafkad's) running in the background until stopped, the handler folder
    on their PYTHONPATH. `simple`: RQ's own SimpleWorker, which runs each job in the worker process itself (no
    fork per job: faster, and a kill -9 of the worker kills the job it was running)."""

    def __init__(self, *queues: str, count: int = 4, simple: bool = True, serializer: str = "json",
                 with_scheduler: bool = False) -> None:
        self.queues = queues
        self.count = count
        self.simple = simple
        self.serializer = serializer
        self.with_scheduler = with_scheduler
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> RqWorkers:
        env = {**os.environ, "PYTHONPATH": str(HANDLERS), "EFFECTS_REDIS_URL": REDIS_URL}
        args = [str(BIN / "rq"), "worker", "--url", REDIS_URL, "--serializer", self.serializer, "--quiet"]
        if self.simple:
            args += ["--worker-class", "rq.worker.SimpleWorker"]
        if self.with_scheduler:
            args.append("--with-scheduler")
        for _ in range(self.count):
            self.procs.append(subprocess.Popen([*args, *self.queues], env=env, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
        WORKERS.append(self)
        return self

    def kill_one(self) -> int:
        """SIGKILL the first worker still running; its pid."""
        proc = next(p for p in self.procs if p.poll() is None)
        proc.kill()
        proc.wait(30)
        return proc.pid

    def stop(self, timeout: float = 5) -> None:
        """SIGTERM (RQ's warm shutdown: the job in hand is finished), then SIGKILL what is still there after
        `timeout`: a stock worker's teardown can wait a minute on redis-py's pubsub thread (cli/worker.py says
        why; karafkad's own worker does not), long after its last job."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)


WORKERS: list[RqWorkers] = []
"""Every RqWorkers started by the current test; conftest stops what is left when the test ends."""


# --- load and the loss/duplicate checker -------------------------------------


class Background:
    """A daemon thread that runs `loop` until stop(): what the load, the auditors and the meters share."""

    JOIN_SECONDS = 60.0
    """How long stop() waits for the thread to end (a kcat run or a read of the topic in hand finishes first)."""

    def __init__(self, name: str) -> None:
        self.stopping = threading.Event()
        """Set by stop(); `loop` waits on it, so that it ends within one turn."""
        self._thread = threading.Thread(target=self.loop, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(self.JOIN_SECONDS)

    def loop(self) -> None:
        raise NotImplementedError


class Sampler(Background):
    """Takes a `sample` every `interval` seconds until stopped. A sample that raises (a broker or Redis down
    in the middle of a fault) is skipped: `samples` counts those taken."""

    def __init__(self, name: str, interval: float) -> None:
        super().__init__(name)
        self.interval = interval
        self.samples = 0

    def loop(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.sample()
            except Exception:  # noqa: S112 - a service is down mid-fault: that sample is skipped
                continue
            self.samples += 1

    def sample(self) -> None:
        raise NotImplementedError


def first_unproven(committed: Mapping[int, int], checked: Mapping[int, int],
                   proven: Callable[[int, int], bool]) -> dict[int, int]:
    """Partition -> its first offset from `checked` (where an earlier sample got to) up to its committed offset
    that `proven(partition, offset)` does not vouch for (a job, a dead letter, a filtered message)."""
    out = {}
    for partition, offset in committed.items():
        for o in range(checked.get(partition, 0), offset):
            if not proven(partition, o):
                out[partition] = o
                break
    return out


class Load(Background):
    """Produces numbered JSON messages with kcat in a background thread until stopped.

    A failed kcat run (the broker is down) is retried with new numbers; what
    really reached the topic is read back from the topic itself at the end,
    so the checker never trusts the producer's own bookkeeping.
    """

    JOIN_SECONDS = 90.0

    def __init__(self, topic: str, batch: int = 100, pause: float = 0.05,
                 message: Any = lambda n: json.dumps({"n": n}), rate: float | None = None,
                 bootstrap: str = BOOTSTRAP, kcat_options: Sequence[str] = ()) -> None:
        """`pause` seconds between batches; or, with `rate`, paced to that many messages a second
        (kcat's own start-up time included, catching up at most 2 s after an outage). `kcat_options`
        are more -X settings for kcat (`name=value`)."""
        super().__init__("load")
        self.rate = rate
        self.message = message
        self.topic = topic
        self.batch = batch
        self.pause = pause
        self.bootstrap = bootstrap
        self.extra = [arg for option in ("message.timeout.ms=20000", *kcat_options) for arg in ("-X", option)]
        self.next = 0
        self.failures = 0

    def loop(self) -> None:
        due = time.monotonic()
        while not self.stopping.is_set():
            values = [self.message(n) for n in range(self.next, self.next + self.batch)]
            self.next += self.batch
            try:
                kcat_produce(self.topic, values, extra=self.extra, bootstrap=self.bootstrap)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                self.failures += 1
                time.sleep(0.5)
            if self.rate is None:
                self.stopping.wait(self.pause)
                continue
            due = max(due + self.batch / self.rate, time.monotonic() - 2.0)
            self.stopping.wait(max(0.0, due - time.monotonic()))


def topic_messages(topic: str, bootstrap: str = BOOTSTRAP) -> dict[tuple[int, int], int]:
    """(partition, offset) -> message number n, for every message in the topic (read with kcat)."""
    out = {}
    for line in kcat_read(topic, "%p %o %s\\n", timeout=120, bootstrap=bootstrap):
        partition, offset, value = line.split(" ", 2)
        out[(int(partition), int(offset))] = json.loads(value)["n"]
    return out


def job_prefix(group: str, topic: str, route: str) -> str:
    from karafkad.routes.jobs import job_id_prefix

    return job_id_prefix(group, topic, route)


def assert_exactly_once(topic: str, group: str, queue: str, route: str | None = None,
                        expected: set[tuple[int, int]] | None = None, client: redis.Redis[bytes] | None = None) -> int:
    """Every message of `topic` (or the `expected` (partition, offset)s) is exactly one job on `queue`
    (in the test Redis, or `client`'s).

    Compares job ids, not counts: the queue must hold each expected id once
    (a second enqueue of the same id would appear twice in the queue list),
    and nothing else. Returns the number of messages checked.
    """
    messages = topic_messages(topic)
    wanted = set(messages) if expected is None else expected
    prefix = job_prefix(group, topic, route or f"{topic}->effects.record")
    want_ids = {f"{prefix}-{p}-{o}" for p, o in wanted}
    ids = job_ids(queue, client)
    duplicated = sorted({i for i in ids if ids.count(i) > 1}) if len(ids) != len(set(ids)) else []
    missing = sorted(want_ids - set(ids))
    extra = sorted(set(ids) - want_ids)
    assert not duplicated, f"{len(duplicated)} jobs enqueued twice, e.g. {duplicated[:5]}"
    assert not missing, f"{len(missing)} of {len(want_ids)} messages lost, e.g. {missing[:5]}"
    assert not extra, f"{len(extra)} unexpected jobs, e.g. {extra[:5]}"
    return len(want_ids)


def dead_letter_origins(topic: str, timeout: float = 120, bootstrap: str = BOOTSTRAP) -> set[tuple[int, int]]:
    """(partition, offset) of the message behind each dead letter in `topic` (its karafkad.original_* headers)."""
    return set(dead_letter_times(topic, timeout, bootstrap))


def dead_letter_times(topic: str, timeout: float = 120, bootstrap: str = BOOTSTRAP) -> dict[tuple[int, int], int]:
    """(partition, offset) of the message behind each dead letter in `topic` -> the dead letter's timestamp (ms:
    when the daemon's producer sent it; the first, if there are two)."""
    times: dict[tuple[int, int], int] = {}
    for line in kcat_read(topic, "%T %h\\n", timeout=timeout, bootstrap=bootstrap):
        stamp, _, text = line.partition(" ")
        headers = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
        origin = (int(headers["karafkad.original_partition"]), int(headers["karafkad.original_offset"]))
        times[origin] = min(times.get(origin, int(stamp)), int(stamp))
    return times


def outcomes_by_message(topic: str, dead: str, group: str, queue: str, route: str, fate: Callable[[int], str],
                        bootstrap: str = BOOTSTRAP) -> dict[str, Any]:
    """What became of every message in `topic`, checked with sets by message number n.

    `fate(n)` says what n should become: "job", "dead letter" or "filtered".
    lost: numbers with neither a job, nor a dead letter, nor a filter to explain it;
    duplicated: numbers whose message became two jobs; wrong_outcome: a job for a
    message meant to be something else; repeated_in_topic: numbers the producer
    wrote twice (at two offsets), which are then two messages, not a duplicate job.
    """
    messages = topic_messages(topic, bootstrap)
    prefix = job_prefix(group, topic, route)
    ids = job_ids(queue)
    jobs = [(int(p), int(o)) for p, o in (i.removeprefix(prefix + "-").split("-") for i in ids)]
    letters = dead_letter_origins(dead, bootstrap=bootstrap)
    handled = set(jobs) | letters | {po for po, n in messages.items() if fate(n) == "filtered"}
    lost = sorted(messages[po] for po in set(messages) - handled)
    duplicated = sorted(messages.get(po, -1) for po, count in Counter(jobs).items() if count > 1)
    wrong = sorted(messages[po] for po in set(jobs) if po in messages and fate(messages[po]) != "job")
    repeated = sorted(n for n, count in Counter(messages.values()).items() if count > 1)
    return {"produced": len(messages), "jobs": len(ids), "dead_letters": len(letters), "lost": lost,
            "duplicated": duplicated, "wrong_outcome": wrong, "repeated_in_topic": repeated}


def wait_until_consumed(daemon: Daemon, topic: str, group: str, timeout: float = 120,
                        bootstrap: str = BOOTSTRAP) -> None:
    """Until the group's committed offsets reach the topic's end."""
    def done() -> bool:
        try:
            return committed_to_end(group, topic, bootstrap)
        except KafkaError:  # the broker is restarting or its coordinator is loading: ask again
            return False

    try:
        wait_for(done, timeout, f"group {group} has consumed all of {topic}", interval=0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stuck_report(daemon, topic, group, bootstrap)}") from None


def stuck_report(daemon: Daemon, topic: str, group: str, bootstrap: str = BOOTSTRAP) -> str:
    """What a daemon that stopped making progress was doing: offsets, its counters, every thread's stack."""
    lines = []
    with contextlib.suppress(Exception):
        lines.append(f"committed {committed_offsets(group, topic, bootstrap)}, end {end_offsets(topic, bootstrap)}")
    with contextlib.suppress(Exception):
        _, body = daemon.get("/metrics")
        lines += [line for line in body.splitlines() if line.startswith(
            ("karafkad_messages", "karafkad_jobs", "karafkad_consumer_lag", "karafkad_paused", "karafkad_assigned",
             "karafkad_commit", "karafkad_backpressure", "karafkad_dead"))]
    if daemon.proc is not None and daemon.proc.poll() is None:
        daemon.signal(signal.SIGUSR1)  # faulthandler writes each thread's stack to the log
        time.sleep(1)
    lines += ["--- the daemon's log, last 150 lines:", *daemon.logs().splitlines()[-150:]]
    return "\n".join(lines)


class CommitAuditor(Sampler):
    """Samples, while a test runs, that committed offsets never run ahead of the jobs in Redis.

    Each sample reads the committed offsets first, then the queued job ids: a
    committed offset c on a partition promises a job for every offset below c
    (jobs are only added, never removed, in these tests), or, with
    `dead_letters`, a dead letter from that offset in that topic.

    A dead letter may be acknowledged and still not readable for a moment: a
    partition's new leader serves reads up to its high watermark, which can
    lag the old leader's until its followers fetch again. So an offset whose
    dead letter is not seen is a suspect, judged at stop() when the cluster
    has settled: cleared if its dead letter is there with a timestamp (set
    by the daemon's producer when it sent it) no later than the sample that
    saw the commit, a violation otherwise (a commit ahead of a dead letter
    sent after it shows as one sent later).
    """

    JOIN_SECONDS = 30.0

    def __init__(self, topic: str, group: str, queue: str, route: str | None = None, *,
                 dead_letters: str | None = None, bootstrap: str = BOOTSTRAP,
                 client: redis.Redis[bytes] | None = None) -> None:
        """`client`: the Redis the jobs are in (default: the test Redis)."""
        super().__init__("auditor", interval=0.5)
        self.topic, self.group, self.queue = topic, group, queue
        self.dead_letters, self.bootstrap, self.client = dead_letters, bootstrap, client
        self.letters: set[tuple[int, int]] = set()
        """Origins of the dead letters read so far (read again only when an offset has no job)."""
        self.prefix = job_prefix(group, topic, route or f"{topic}->effects.record")
        self.violations: list[str] = []
        self.suspects: list[tuple[int, int, int, float]] = []
        """(partition, committed, offset, when the sample had read the commit): judged at stop()."""
        self._checked: dict[int, int] = {}

    def sample(self) -> None:
        committed = committed_offsets(self.group, self.topic, self.bootstrap)
        sampled_at = time.time()  # after the read: every commit it saw was made by then
        ids = set(job_ids(self.queue, self.client))

        def proven(partition: int, offset: int) -> bool:
            return f"{self.prefix}-{partition}-{offset}" in ids or (partition, offset) in self.letters

        unproven = first_unproven(committed, self._checked, proven)
        if unproven and self.dead_letters:
            self.letters |= dead_letter_origins(self.dead_letters, timeout=20, bootstrap=self.bootstrap)
            unproven = first_unproven(committed, self._checked, proven)
        for partition, offset in committed.items():
            if partition in unproven and self.dead_letters:
                self.suspects.append((partition, offset, unproven[partition], sampled_at))
            elif partition in unproven:
                self.violations.append(f"partition {partition} committed {offset} but offset "
                                       f"{unproven[partition]} has no job")
            else:
                self._checked[partition] = max(self._checked.get(partition, 0), offset)

    def stop(self) -> None:
        super().stop()
        assert self.samples > 0, "the auditor never got a sample"
        if self.suspects and self.dead_letters:
            times = dead_letter_times(self.dead_letters, bootstrap=self.bootstrap)
            for partition, committed, offset, sampled_at in self.suspects:
                sent = times.get((partition, offset))
                if sent is None or sent > sampled_at * 1000:
                    what = "no dead letter" if sent is None else \
                        f"its dead letter was sent {sent / 1000 - sampled_at:.3f} s later"
                    self.violations.append(f"partition {partition} committed {committed} but offset {offset} has "
                                           f"neither a job nor a dead letter when the commit was seen ({what})")
            print(f"auditor: {len(self.suspects)} sample(s) found a dead letter not yet readable; "
                  f"{len(self.violations)} of them not explained by its timestamp")
        assert not self.violations, self.violations[:5]
