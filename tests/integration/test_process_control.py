"""The process-control surface, against the real broker and Redis: what systemd and an operator see.

sd_notify messages are read from a socket the test binds (with the sender's
credentials, as systemd reads them), `start --daemonize` and the pidfile
commands run as real subprocesses, jobs run in `karafkad worker`, and the
daemon is traced with strace to show that the sandbox in
systemd/karafkad.service leaves it everything it uses.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness import (
    BIN,
    REDIS_PORT,
    REDIS_URL,
    ROOT,
    Daemon,
    Forwarder,
    create_topic,
    effects,
    free_port,
    job_ids,
    karafkad,
    kcat_produce,
    redis_client,
    routes_yaml,
    unique,
    wait_for,
)
from rq import Queue
from rq.serializers import JSONSerializer

KARAFKAD = BIN / "karafkad"
UNIT = ROOT / "systemd" / "karafkad.service"

# --- helpers ------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    fields: dict[str, str]
    pid: int | None
    """The sender's pid from SCM_CREDENTIALS: what systemd checks for NotifyAccess=main."""


class NotifySocket:
    """What systemd listens on: an AF_UNIX datagram socket, read by a thread into `messages`."""

    def __init__(self, *, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._dir: str | None = None
        if abstract:
            name = unique("karafkad-notify")
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self._dir = tempfile.mkdtemp(prefix="kn-")  # AF_UNIX paths stop at 108 bytes
            self.address = os.path.join(self._dir, "notify")
            self.sock.bind(self.address)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.2)
        self.messages: list[Notification] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        credentials = struct.calcsize("3i")
        while not self._closed.is_set():
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(credentials))
            except TimeoutError:
                continue
            except OSError:
                return
            pid = None
            for level, kind, payload in ancillary:
                if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS):
                    pid = struct.unpack("3i", payload[:credentials])[0]
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self.messages.append(Notification(fields, pid))

    def snapshot(self) -> list[Notification]:
        with self._lock:
            return list(self.messages)

    def wait(self, condition: Callable[[dict[str, str]], bool], *, after: int = 0, timeout: float = 60,
             what: str = "a notification") -> int:
        """Index of the first message at or after `after` that meets `condition`."""
        found: list[int] = []

        def arrived() -> bool:
            found[:] = [i for i, m in enumerate(self.snapshot()) if i >= after and condition(m.fields)][:1]
            return bool(found)

        wait_for(arrived, timeout, what)
        return found[0]

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self.sock.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    sock = NotifySocket()
    yield sock
    sock.close()


def is_ready(message: dict[str, str]) -> bool:
    return message.get("READY") == "1"


def gone(pid: int) -> bool:
    """The process has exited (a zombie counts: whoever adopted it has not reaped it yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def http_status(port: int, path: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def json_events(path: Path) -> list[dict[str, Any]]:
    events = []
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        with contextlib.suppress(ValueError):
            events.append(json.loads(line))
    return events


def single_route(tmp_path: Path, *, redis_url: str = REDIS_URL, **route: Any) -> tuple[Path, str, str, str]:
    """A routes file with one group and one route on a new topic; (file, topic, group, queue)."""
    topic, group, queue = create_topic(unique("t"), partitions=2), unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [{"topic": topic, "handler": "effects.record",
                                                       "queue": queue, **route}]}},
                                  extra={"redis": {"url": redis_url}}))
    return config, topic, group, queue


@pytest.fixture
def daemonized() -> Iterator[list[Path]]:
    """Pidfiles of daemons a test detached; any still running at teardown (a failed test) is killed."""
    pidfiles: list[Path] = []
    yield pidfiles
    for path in pidfiles:
        with contextlib.suppress(OSError, ValueError):
            pid = int(path.read_text())
            from karafkad.supervision.pidfile import held

            if held(path):
                os.kill(pid, signal.SIGKILL)


# --- systemd notifications ------------------------------------------------------


def test_ready_waits_for_redis_and_the_ready_endpoint_flips_from_503_to_200(tmp_path: Path) -> None:
    """With the groups joined but Redis unreachable, /ready is 503 and no READY=1 is sent; once Redis
    answers, READY=1 arrives (from the main pid) and /ready is 200 by then. STATUS= says what it waits for."""
    door = Forwarder(REDIS_PORT)  # connection refused until opened
    notify = NotifySocket(abstract=True)  # systemd may hand out an abstract address
    config, _, group, _ = single_route(tmp_path, redis_url=f"redis://127.0.0.1:{door.port}/0")
    daemon = Daemon(config, env={"NOTIFY_SOCKET": notify.address}).start()
    try:
        def joined() -> bool:
            daemon.ready()  # raises if the daemon exited
            try:
                _, body = daemon.get("/status.json")
            except OSError:
                return False
            threads = json.loads(body)["groups"].get(group, {}).get("threads", [])
            return bool(threads) and all(t["joined"] for t in threads)

        wait_for(joined, 60, "the group has joined (with Redis still unreachable)")
        assert daemon.get("/ready")[0] == 503
        assert daemon.get("/ping")[0] == 200
        assert not any(is_ready(m.fields) for m in notify.snapshot())
        assert {"STATUS": "joining consumer groups"} in [m.fields for m in notify.snapshot()]

        door.open()
        ready_at = notify.wait(is_ready, what="READY=1 after Redis answers")
        assert daemon.get("/ready")[0] == 200
        message = notify.snapshot()[ready_at]
        assert daemon.proc is not None
        assert message.pid == daemon.proc.pid
        assert message.fields["MAINPID"] == str(daemon.proc.pid)
        assert message.fields["STATUS"].startswith("consuming 1 group(s)")
        assert daemon.stop() == 0, daemon.logs()
    finally:
        daemon.kill()
        door.close()
        notify.close()


def test_watchdog_pings_reload_and_stop_notifications(tmp_path: Path, notify: NotifySocket) -> None:
    """Under WatchdogSec (WATCHDOG_USEC), WATCHDOG=1 pings keep coming; SIGHUP gives RELOADING=1 (with
    MONOTONIC_USEC) then READY=1; SIGTERM gives STOPPING=1 and exit 0. Every message is from the main pid."""
    config, *_ = single_route(tmp_path)
    daemon = Daemon(config, env={"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "1000000"}).start()
    try:
        daemon.wait_ready()
        ready_at = notify.wait(is_ready, what="READY=1")
        for n in range(1, 4):
            notify.wait(lambda m: m.get("WATCHDOG") == "1", after=ready_at + n, what=f"watchdog ping {n}")

        hup_at = len(notify.snapshot())
        daemon.signal(signal.SIGHUP)
        reloading_at = notify.wait(lambda m: m.get("RELOADING") == "1", after=hup_at, what="RELOADING=1")
        assert notify.snapshot()[reloading_at].fields["MONOTONIC_USEC"].isdigit()
        notify.wait(is_ready, after=reloading_at + 1, what="READY=1 after the reload")
        wait_for(lambda: any(e.get("event") == "reload applied" for e in daemon.events()), 30, "reload applied")

        term_at = len(notify.snapshot())
        daemon.signal(signal.SIGTERM)
        stopping_at = notify.wait(lambda m: m.get("STOPPING") == "1", after=term_at, what="STOPPING=1")
        assert notify.snapshot()[stopping_at].fields["STATUS"] == "draining (SIGTERM)"
        assert daemon.wait(60) == 0, daemon.logs()
        assert daemon.proc is not None
        assert {m.pid for m in notify.snapshot()} == {daemon.proc.pid}
    finally:
        daemon.kill()


# --- --daemonize and the pidfile commands -----------------------------------------


def test_daemonized_start_status_reload_stop_through_the_pidfile(tmp_path: Path,
                                                                 daemonized: list[Path]) -> None:
    """`start --daemonize` returns at once with the daemon detached in its own session; the pidfile holds
    the daemon's pid; Kafka and Redis work (clients made after detaching); logs go to PIDFILE.log; status
    shows the groups; a second start is refused with 3; reload applies; stop drains and removes the pidfile."""
    config, topic, group, queue = single_route(tmp_path)
    pidfile, port = tmp_path / "run" / "karafkad.pid", free_port()
    daemonized.append(pidfile)
    started = karafkad("start", "-c", config, "--daemonize", "--pidfile", pidfile, "--http-port", str(port),
                       timeout=30)  # would time out if the daemon kept the command's output pipes
    assert started.returncode == 0, started.stdout + started.stderr
    pid = int(pidfile.read_text())
    log = pidfile.with_suffix(".log")
    assert started.stdout.strip() == f"karafkad: started (pid {pid}), logging to {log}"
    assert not gone(pid)
    assert os.getsid(pid) != os.getsid(0)  # detached: a session of its own, no controlling terminal
    opened = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert {p for p in opened if p.startswith("/")} == {"/dev/null", str(log), str(pidfile)}

    wait_for(lambda: http_status(port, "/ready") == 200, 60, "the daemon is ready")
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(1, 11)])
    wait_for(lambda: len(job_ids(queue)) == 10, 60, "10 jobs enqueued by the daemonized karafkad")

    status = karafkad("status", "--pidfile", pidfile, "--http-port", str(port))
    assert status.returncode == 0, status.stdout
    assert f"karafkad: running (pid {pid})" in status.stdout
    assert f"group {group}: 1 thread(s)" in status.stdout

    second = karafkad("start", "-c", config, "--daemonize", "--pidfile", pidfile, timeout=30)
    assert second.returncode == 3
    assert f"held by a running karafkad (pid {pid})" in second.stderr
    assert int(pidfile.read_text()) == pid

    reload = karafkad("reload", "--pidfile", pidfile, "-c", config)  # checked first, then SIGHUP
    assert reload.returncode == 0, reload.stdout + reload.stderr
    wait_for(lambda: any(e.get("event") == "reload applied" for e in json_events(log)), 30, "reload in the log")

    stop = karafkad("stop", "--pidfile", pidfile)
    assert stop.returncode == 0, stop.stdout
    assert f"stopped (pid {pid})" in stop.stdout
    assert not pidfile.exists()
    wait_for(lambda: gone(pid), 10, "the daemon process is gone")
    events = [e.get("event") for e in json_events(log)]
    assert "SIGTERM: draining" in events
    assert events[-1] == "stopped cleanly"


def test_a_killed_daemons_stale_pidfile_is_detected_and_reused(tmp_path: Path, daemonized: list[Path]) -> None:
    """After kill -9 the pidfile stays behind: status, reload and stop call it stale and exit 3 (signalling
    nobody); a new start takes the file over."""
    config, *_ = single_route(tmp_path)
    pidfile = tmp_path / "karafkad.pid"
    daemonized.append(pidfile)
    assert karafkad("start", "-c", config, "--daemonize", "--pidfile", pidfile).returncode == 0
    killed = int(pidfile.read_text())
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: gone(killed), 10, "the killed daemon is gone")
    assert pidfile.exists()

    for command in ("status", "reload", "stop"):
        result = karafkad(command, "--pidfile", pidfile, *(["-c", config] if command == "reload" else []))
        assert result.returncode == 3, f"{command}: {result.stdout}"
        assert f"stale pidfile (pid {killed}" in result.stdout

    again = karafkad("start", "-c", config, "--daemonize", "--pidfile", pidfile)
    assert again.returncode == 0, again.stderr
    pid = int(pidfile.read_text())
    assert pid != killed
    assert karafkad("stop", "--pidfile", pidfile).returncode == 0
    assert not pidfile.exists()


def test_daemonized_start_that_cannot_run_exits_with_the_daemons_status(tmp_path: Path,
                                                                        daemonized: list[Path]) -> None:
    """A daemon that gives up after detaching (its HTTP port is taken) makes `start --daemonize` exit 3
    too, naming the log file, where the reason is; no pidfile is left behind."""
    config, *_ = single_route(tmp_path)
    pidfile = tmp_path / "karafkad.pid"
    daemonized.append(pidfile)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = karafkad("start", "-c", config, "--daemonize", "--pidfile", pidfile, "--http-port", str(port))
    log = pidfile.with_suffix(".log")
    assert result.returncode == 3
    assert f"exited with status 3 before it was up; see {log}" in result.stderr
    assert any(e.get("event") == "cannot serve HTTP" for e in json_events(log))
    assert not pidfile.exists()


# --- karafkad worker ---------------------------------------------------------------


def test_jobs_run_in_karafkad_worker_with_the_plugin_folder_and_each_routes_serializer(tmp_path: Path) -> None:
    """Jobs karafkad enqueued (a JSON queue and a pickle queue) run in `karafkad worker --burst`, which
    finds the handlers through the routes file's plugin folder (no PYTHONPATH) and picks each queue's
    serializer from it; asked for both, it runs one worker per serializer."""
    json_topic, pickle_topic = create_topic(unique("tj")), create_topic(unique("tp"))
    json_queue, pickle_queue = unique("qj"), unique("qp")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({unique("g"): {"routes": [
        {"topic": json_topic, "handler": "effects.record", "queue": json_queue},
        {"topic": pickle_topic, "handler": "effects.record", "queue": pickle_queue,
         "job": {"serializer": "pickle"}}]}}))
    kcat_produce(json_topic, [json.dumps({"n": n}) for n in (1, 2, 3)])
    kcat_produce(pickle_topic, [json.dumps({"n": n}) for n in (101, 102)])
    daemon = Daemon(config).start()
    try:
        daemon.wait_ready()
        wait_for(lambda: len(job_ids(json_queue)) == 3 and len(job_ids(pickle_queue)) == 2, 60, "5 jobs enqueued")
        assert daemon.stop() == 0, daemon.logs()
    finally:
        daemon.kill()

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    worker = subprocess.run([str(KARAFKAD), "worker", "-c", str(config), "--burst", json_queue, pickle_queue],
                            capture_output=True, text=True, timeout=120, env=env)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert "the queues need 2 workers" in worker.stderr
    assert effects() == {1: 1, 2: 1, 3: 1, 101: 1, 102: 1}
    assert job_ids(json_queue) == job_ids(pickle_queue) == []


@pytest.mark.parametrize(("options", "processes"), [(["--processes", "3"], None), (["--no-fork"], 1),
                                                    (["--processes", "2", "--no-fork"], 2)],
                         ids=["a pool of 3", "no fork", "a pool of 2 without forks"])
def test_a_pool_of_workers_and_a_worker_without_forks_run_every_job_once(tmp_path: Path, options: list[str],
                                                                         processes: int | None) -> None:
    """`karafkad worker --processes N` (RQ's WorkerPool) and `--no-fork` (RQ's SimpleWorker) run each job once;
    without forks every job runs in one of the worker processes, with them each in a work horse of its own."""
    topic, queue = create_topic(unique("tw"), partitions=2), unique("qw")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({unique("g"): {"routes": [
        {"topic": topic, "handler": "effects.record_where", "queue": queue}]}}))
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(60)])
    daemon = Daemon(config).start()
    try:
        daemon.wait_ready()
        wait_for(lambda: len(job_ids(queue)) == 60, 60, "60 jobs enqueued")
        assert daemon.stop() == 0, daemon.logs()
    finally:
        daemon.kill()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    worker = subprocess.run([str(KARAFKAD), "worker", "-c", str(config), "--burst", *options, queue],
                            capture_output=True, text=True, timeout=180, env=env)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert effects() == dict.fromkeys(range(60), 1)
    assert job_ids(queue) == []
    ran_in = redis_client().scard("effects:pids")
    if processes is None:
        assert ran_in == 60, f"60 jobs ran in {ran_in} work horses"
    else:  # (one process of a pool may have taken every job)
        assert 1 <= ran_in <= processes, f"60 jobs ran in {ran_in} processes"


EDITED_HANDLER = """\
from pathlib import Path


def handle(params):
    Path(params["out"]).write_text({version!r})
"""


def test_an_edited_handler_runs_from_the_next_job_on(tmp_path: Path) -> None:
    """`karafkad worker` imports the handlers only to check them, then forgets them: each job's work horse
    imports its handler from disk, so an edit made between two jobs runs in the second, as under `rq worker`."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    module = unique("kd_edited").replace("-", "_")
    handler = plugins / f"{module}.py"
    handler.write_text(EDITED_HANDLER.format(version="first"))
    queue, out = unique("qe"), tmp_path / "out"
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({unique("g"): {"routes": [
        {"topic": unique("te"), "handler": f"{module}.handle", "queue": queue}]}},
        extra={"plugins": {"paths": [str(plugins)]}}))
    jobs = Queue(queue, connection=redis_client(), serializer=JSONSerializer)
    worker = subprocess.Popen([str(KARAFKAD), "worker", "-c", str(config), queue], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        jobs.enqueue(f"{module}.handle", {"out": str(out)})
        wait_for(lambda: out.exists() and out.read_text() == "first", 60, "the first job ran")
        handler.write_text(EDITED_HANDLER.format(version="the edited one"))  # another size: no stale .pyc
        jobs.enqueue(f"{module}.handle", {"out": str(out)})
        wait_for(lambda: out.read_text() != "first", 60, "the second job ran")
        assert out.read_text() == "the edited one"
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output


def test_a_worker_that_cannot_reach_redis_exits_3_so_systemd_restarts_it(tmp_path: Path) -> None:
    """Redis unreachable: `karafkad worker` says why and exits 3, not Python's 1 for an uncaught exception,
    which karafkad-worker@.service reserves for a bad routes file and does not restart on."""
    config, *_ = single_route(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    worker = karafkad("worker", "-c", config, "--burst")
    assert worker.returncode == 3
    assert "karafkad: worker stopped: ConnectionError" in worker.stderr


# --- the sandbox of systemd/karafkad.service -------------------------------------


def unit_values(key: str) -> list[str]:
    """Every value of `key=` in the [Service] section of systemd/karafkad.service."""
    return re.findall(rf"^{key}=(.*)$", UNIT.read_text(), flags=re.MULTILINE)


def syscall_filter_allows() -> set[str]:
    """The system calls the unit's SystemCallFilter= lines allow, with systemd's own group definitions."""
    listing = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"], capture_output=True, text=True,
                             check=True, timeout=60).stdout
    groups: dict[str, set[str]] = {}
    current: set[str] = set()
    for line in listing.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), set())
        elif line.strip() and not line.strip().startswith("#"):
            current.add(line.split()[0])

    def expand(names: list[str]) -> set[str]:
        out: set[str] = set()
        for name in names:
            out |= expand(sorted(groups[name])) if name.startswith("@") else {name}
        return out

    allowed: set[str] = set()
    for value in unit_values("SystemCallFilter"):
        if value.startswith("~"):
            allowed -= expand(value[1:].split())
        else:
            allowed |= expand(value.split())
    return allowed


def traced(trace: Path) -> tuple[set[str], set[str], list[str], list[str]]:
    """System calls, socket families, memory mappings both writable and executable, and files opened for
    writing, from an `strace -f` log."""
    calls, families, wx, written = set(), set(), [], []
    for line in trace.read_text(errors="replace").splitlines():
        found = re.match(r"^\d+\s+(?:<\.\.\.\s+)?([a-z_0-9]+)[(\s]", line)
        if not found:
            continue  # signals (---) and exits (+++)
        calls.add(found.group(1))
        if family := re.search(r"\bsocket(?:pair)?\((AF_[A-Z0-9]+)", line):
            families.add(family.group(1))
        if re.search(r"\bmmap\(.*PROT_WRITE\|PROT_EXEC", line) or re.search(r"\b(pkey_)?mprotect\(.*PROT_EXEC", line):
            wx.append(line)
        if (opened := re.search(r'\bopenat\([^,]+, "([^"]+)", [^)]*O_(?:WRONLY|RDWR)', line)) and " = -1 " not in line:
            written.append(opened.group(1))
    return calls, families, wx, written


def _traced_pid(tracer: int) -> int | None:
    for task in Path(f"/proc/{tracer}/task").iterdir():
        children = (task / "children").read_text().split()
        if children:
            return int(children[0])
    return None


def test_the_daemon_needs_nothing_the_unit_file_sandbox_forbids(tmp_path: Path, notify: NotifySocket) -> None:
    """Traced through start, consuming and enqueueing, the HTTP endpoints, sd_notify, a reload and a drain
    (and the `karafkad check` of ExecReload), karafkad makes only system calls SystemCallFilter= allows,
    opens only the socket families RestrictAddressFamilies= allows, never maps memory writable and
    executable (MemoryDenyWriteExecute=yes), and opens no file for writing (ProtectSystem=strict)."""
    config, topic, _, queue = single_route(tmp_path)
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(1, 21)])
    trace, check_trace, log = tmp_path / "daemon.trace", tmp_path / "check.trace", tmp_path / "daemon.log"
    port = free_port()
    env = {**os.environ, "NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "2000000",
           "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}  # as the unit's Environment=
    with open(log, "wb") as out:
        tracer = subprocess.Popen(["strace", "-f", "-qq", "-o", str(trace), str(KARAFKAD), "start", "-c",
                                   str(config), "--http-port", str(port), "--log-format", "json"],
                                  stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for(lambda: tracer.poll() is not None or http_status(port, "/ready") == 200, 120, "ready under strace")
        assert tracer.poll() is None, log.read_text()  # strace (installed by scripts/bootstrap) must trace
        wait_for(lambda: len(job_ids(queue)) == 20, 60, "20 jobs enqueued")
        for path in ("/metrics", "/status.json", "/ping", "/"):
            assert http_status(port, path) == 200
        pid = _traced_pid(tracer.pid)
        assert pid is not None
        os.kill(pid, signal.SIGHUP)
        wait_for(lambda: any(e.get("event") == "reload applied" for e in json_events(log)), 60, "reload applied")
        os.kill(pid, signal.SIGTERM)
        assert tracer.wait(90) == 0, log.read_text()
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait(30)
    check = subprocess.run(["strace", "-f", "-qq", "-o", str(check_trace), str(KARAFKAD), "check", "-q", "-c",
                            str(config)], capture_output=True, text=True, timeout=120, env=env)
    assert check.returncode == 0, check.stdout + check.stderr

    allowed_calls = syscall_filter_allows()
    allowed_families = set(unit_values("RestrictAddressFamilies")[0].split())
    assert unit_values("MemoryDenyWriteExecute") == ["yes"]
    for path in (trace, check_trace):
        calls, families, wx, written = traced(path)
        assert {"openat", "mmap"} <= calls  # the trace is there and parsed
        assert calls - allowed_calls == set(), path.name
        assert families <= allowed_families, path.name
        assert wx == [], path.name
        assert [p for p in written if p != "/dev/null"] == [], path.name
    assert {"AF_INET", "AF_UNIX"} <= traced(trace)[1]  # Kafka, Redis, HTTP; sd_notify


def test_sigusr1_writes_every_threads_stack_to_the_log_and_the_daemon_keeps_running(tmp_path: Path) -> None:
    """`kill -USR1` is for a daemon that seems stuck: each thread's stack goes to the log, nothing else changes."""
    config, _, _, _ = single_route(tmp_path)
    daemon = Daemon(config).start().wait_ready()
    try:
        daemon.signal(signal.SIGUSR1)
        wait_for(lambda: " in consume" in daemon.logs(), 30,
                 lambda: f"the consumer thread's stack in the log (its last lines: {daemon.logs()[-3000:]})")
        logs = daemon.logs()
        assert "Thread 0x" in logs
        assert "karafkad/consuming/consumer.py" in logs  # the consumer loop, where it stood
        assert daemon.ready()
        assert daemon.stop() == 0, daemon.logs()
    finally:
        daemon.kill()
