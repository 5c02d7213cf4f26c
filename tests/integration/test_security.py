"""Security against the real broker and Redis: SASL/SCRAM, a Redis ACL user, secrets on every surface, JSON jobs.

The broker that scripts/kafka starts has a SASL_PLAINTEXT listener on
KARAFKAD_KAFKA_PORT + 2 with the SCRAM user karafkad / karafkad-secret; the
password-protected Redis is a second redis-server started here with
scripts/redis (its own state folder and port, default user off).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from harness import (
    HANDLERS,
    KAFKA_PORT,
    SERVICE_ENV,
    Daemon,
    committed_offsets,
    create_topic,
    free_port,
    karafkad,
    kcat_produce,
    kcat_read,
    redis_client,
    routes_yaml,
    script,
    unique,
    wait_for,
)

from karafkad.store.keys import job_key, queue_key

SASL_BOOTSTRAP = f"127.0.0.1:{KAFKA_PORT + 2}"
SCRAM_USER, SCRAM_PASSWORD = "karafkad", "karafkad-secret"
"""Created by scripts/kafka when it formats the broker's storage."""
WRONG_PASSWORD = "not-the-secret-7f3a9c"


def sasl_section(mechanism: str = "SCRAM-SHA-512") -> dict[str, Any]:
    """A routes file's kafka section for the SASL listener, the password read from $KAFKA_PASSWORD."""
    return {"bootstrap_servers": SASL_BOOTSTRAP, "client_id": "karafkad-sasl-test",
            "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": mechanism,
            "sasl_plain_username": SCRAM_USER, "sasl_plain_password": "${KAFKA_PASSWORD}"}


def assert_never_printed(secret: str, *texts: str) -> None:
    """`secret` appears in none of `texts` (and neither does its URL-encoded form)."""
    for text in texts:
        assert secret not in text, f"the secret {secret!r} was printed:\n{_around(text, secret)}"


def _around(text: str, needle: str) -> str:
    at = text.find(needle)
    return text[max(at - 300, 0): at + 300]



def events_with(daemon: Daemon, word: str) -> list[dict[str, Any]]:
    """The daemon's log events whose text mentions `word` (case-insensitive)."""
    return [e for e in daemon.events() if word.lower() in json.dumps(e).lower()]


# --- Kafka SASL/SCRAM ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_scram_with_the_right_password_consumes_and_enqueues(tmp_path: Path, mechanism: str) -> None:
    """Over the SASL_PLAINTEXT listener with SCRAM and the right credentials, every message becomes a job and
    the offsets are committed; the password is in no log line."""
    topic, group, queue = create_topic(unique("sasl")), unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [{"topic": topic, "handler": "effects.record", "queue": queue}]}},
                                  extra={"kafka": sasl_section(mechanism=mechanism)}))
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(5)])
    daemon = Daemon(config, env={"KAFKA_PASSWORD": SCRAM_PASSWORD}).start().wait_ready(90)
    wait_for(lambda: daemon.metric("karafkad_jobs_enqueued_total") >= 5, 60, "5 jobs are enqueued")
    wait_for(lambda: committed_offsets(group, topic) == {0: 5}, 30, "the offsets are committed")
    assert daemon.stop() == 0, daemon.logs()
    assert redis_client().llen(queue_key(queue)) == 5
    assert_never_printed(SCRAM_PASSWORD, daemon.logs())


def test_sasl_dead_letters_are_produced_over_the_sasl_listener(tmp_path: Path) -> None:
    """The dead-letter producer authenticates with the same SCRAM credentials: a rejected message reaches
    its dead-letter topic with the reason, and its offset is committed."""
    topic, dead, group = create_topic(unique("sasl")), create_topic(unique("dead")), unique("g")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [{"topic": topic, "handler": "effects.record",
                                                        "dead_letter": dead}]}},
                                  extra={"kafka": sasl_section()}))
    kcat_produce(topic, ["{not json", json.dumps({"n": 1})])
    daemon = Daemon(config, env={"KAFKA_PASSWORD": SCRAM_PASSWORD}).start().wait_ready(90)
    wait_for(lambda: committed_offsets(group, topic) == {0: 2}, 60, "both messages are handled and committed")
    assert daemon.stop() == 0, daemon.logs()
    letters = kcat_read(dead, "%h|%s\\n")
    assert len(letters) == 1, letters
    assert "karafkad.error_kind=decode" in letters[0]
    assert letters[0].endswith("|{not json")
    assert_never_printed(SCRAM_PASSWORD, daemon.logs())


def _broker_auth_failures() -> int:
    log = Path(SERVICE_ENV["KARAFKAD_STATE_DIR"]) / "logs" / "kafka.log"
    return log.read_text(errors="replace").count("Failed authentication with") if log.exists() else 0


def test_sasl_wrong_password_is_a_clear_authentication_error_retried_with_backoff(tmp_path: Path) -> None:
    """With a wrong SCRAM password the daemon stays up and not ready, logs one clear line naming the
    authentication failure (no traceback, no password), and retries at a bounded rate: the broker sees
    a handful of attempts, not a tight loop. SIGTERM still drains it."""
    topic, group = create_topic(unique("sasl")), unique("g")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [{"topic": topic, "handler": "effects.record"}]}},
                                  extra={"kafka": sasl_section(), "daemon": {"shutdown_timeout": 45}}))
    before = _broker_auth_failures()
    started = time.monotonic()
    daemon = Daemon(config, env={"KAFKA_PASSWORD": WRONG_PASSWORD}).start()
    wait_for(lambda: events_with(daemon, "authentication failed"), 60, "the daemon reports the failed login")
    time.sleep(5)  # some retries (the consumer thread backs off 0.2 s doubling, kafka-python 50 ms doubling)
    assert daemon.proc is not None and daemon.proc.poll() is None, daemon.logs()
    assert daemon.get("/ready")[0] == 503
    elapsed = time.monotonic() - started
    attempts = _broker_auth_failures() - before
    # kafka-python backs off per connection (50 ms doubling to 30 s) and the consumer thread between
    # clients (0.2 s doubling to 10 s): a few attempts a second at the very most, never a spin.
    assert 1 <= attempts <= 5 * elapsed, (attempts, elapsed)
    report = events_with(daemon, "authentication failed")[0]
    assert report["level"] == "error"
    assert "SASL" in report["error"] or "invalid credentials" in report["error"], report
    daemon.signal(signal.SIGTERM)
    code = daemon.wait(60)
    logs = daemon.logs()
    assert code == 0, logs
    assert "Traceback" not in logs
    assert_never_printed(WRONG_PASSWORD, logs)
    assert committed_offsets(group, topic) == {}


# --- Redis with an ACL user -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordRedis:
    port: int
    password: str

    @property
    def url(self) -> str:
        """The URL with the credentials in it."""
        return f"redis://{SCRAM_USER}:{self.password}@127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture(scope="module")
def password_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PasswordRedis]:
    """A second redis-server with `user default off` and the ACL user karafkad, via scripts/redis."""
    state = tmp_path_factory.mktemp("redis-acl")
    server = PasswordRedis(free_port(), f"redis-pw-{uuid.uuid4().hex[:12]}")
    # No TLS listener: these tests do not use one, and its port (REDIS_PORT+1) is one more to find free.
    env = {**SERVICE_ENV, "KARAFKAD_STATE_DIR": str(state), "KARAFKAD_REDIS_PORT": str(server.port),
           "KARAFKAD_REDIS_PASSWORD": server.password, "KARAFKAD_REDIS_TLS_PORT": "0"}
    script("redis", "start", env=env, timeout=60)
    try:
        yield server
    finally:
        script("redis", "stop", env=env, check=False, timeout=90)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def acl(password_redis: PasswordRedis) -> PasswordRedis:
    """The password Redis, emptied (and its ACL log reset) for each test."""
    client = password_redis.client()
    client.flushall()
    client.execute_command("ACL", "LOG", "RESET")
    return password_redis


def redis_section(server: PasswordRedis, style: str, password: str) -> dict[str, Any]:
    if style == "url":
        return {"url": f"redis://{SCRAM_USER}:{password}@127.0.0.1:{server.port}/0"}
    return {"url": f"redis://127.0.0.1:{server.port}/0", "username": SCRAM_USER, "password": "${REDIS_PASSWORD}"}


def test_the_password_redis_refuses_the_default_user(acl: PasswordRedis) -> None:
    """The fixture is what it claims: without credentials Redis answers NOAUTH."""
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=acl.port).ping()


@pytest.mark.parametrize("style", ["fields", "url"])
def test_redis_acl_user_with_the_right_password_enqueues_and_a_worker_runs_the_jobs(
        tmp_path: Path, acl: PasswordRedis, style: str) -> None:
    """With the right password (in username/password, or inside the URL) the daemon writes jobs and
    `karafkad worker` runs them; the password is in no log and no output."""
    topic, group, queue = create_topic(unique("acl")), unique("g"), unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [{"topic": topic, "handler": "effects.record", "queue": queue}]}},
                                  extra={"redis": redis_section(acl, style, acl.password)}))
    env = {"REDIS_PASSWORD": acl.password, "EFFECTS_REDIS_URL": acl.url}
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(3)])
    daemon = Daemon(config, env=env).start().wait_ready(90)
    wait_for(lambda: acl.client().llen(queue_key(queue)) == 3, 60, "3 jobs are in the password Redis")
    _, status = daemon.get("/status.json")
    assert daemon.stop() == 0, daemon.logs()
    worker = karafkad("worker", "-c", config, "--burst", queue, env=env)
    assert worker.returncode == 0, worker.stderr
    assert {int(k): int(v) for k, v in acl.client().hgetall("effects").items()} == {0: 1, 1: 1, 2: 1}
    assert f"{SCRAM_USER}:***@" in json.loads(status)["redis"] or style == "fields"
    assert_never_printed(acl.password, daemon.logs(), status, worker.stdout, worker.stderr)


def test_redis_wrong_password_is_a_clear_error_retried_with_backoff(tmp_path: Path, acl: PasswordRedis) -> None:
    """With a wrong Redis password the daemon stays up and not ready, says the login was refused, keeps the
    partitions paused (it cannot even read what was already handled, so the records are given back) and
    retries with capped backoff (Redis counts a few refused logins a second at most); nothing is committed,
    the status page says why, and the password is never logged."""
    topic, group = create_topic(unique("acl")), unique("g")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [{"topic": topic, "handler": "effects.record"}]}},
                                  extra={"redis": redis_section(acl, "fields", WRONG_PASSWORD),
                                         "daemon": {"shutdown_timeout": 3}}))
    kcat_produce(topic, [json.dumps({"n": 1})])
    daemon = Daemon(config, env={"REDIS_PASSWORD": WRONG_PASSWORD}).start()
    started = time.monotonic()
    refusal = "cannot read the partitions' marks from Redis"
    wait_for(lambda: events_with(daemon, refusal), 60, "the daemon reports it cannot read from Redis")
    time.sleep(8)
    assert daemon.proc is not None and daemon.proc.poll() is None, daemon.logs()
    assert daemon.get("/ready")[0] == 503
    refused = sum(int(entry[1]) for entry in _acl_log(acl) if entry[0] == "count")
    elapsed = time.monotonic() - started
    assert 1 <= refused <= 10 * elapsed + 20, (refused, elapsed)  # /ready probes count too; a spin is thousands
    first = events_with(daemon, refusal)[0]
    assert "AuthenticationError" in first["error"], first
    _, status = daemon.get("/status.json")
    assert "AuthenticationError" in status, status[:2000]  # the thread's `waiting`, or a recent problem
    assert daemon.stop() == 0, daemon.logs()  # nothing was taken, so nothing is given up
    assert committed_offsets(group, topic).get(0, 0) == 0  # never past the message that is not a job
    logs = daemon.logs()
    assert "Traceback" not in logs
    assert_never_printed(WRONG_PASSWORD, logs)


def _acl_log(server: PasswordRedis) -> list[list[Any]]:
    """Pairs (field, value) of every ACL LOG entry, flattened."""
    out = []
    for entry in server.client().execute_command("ACL", "LOG"):
        items = list(entry.items()) if isinstance(entry, dict) else list(zip(entry[::2], entry[1::2], strict=True))
        out.extend([k.decode() if isinstance(k, bytes) else k, v] for k, v in items)
    return out


def test_worker_with_a_wrong_redis_password_exits_with_a_clear_error(tmp_path: Path, acl: PasswordRedis) -> None:
    """`karafkad worker` with a wrong password exits 3 (systemd restarts it, with RestartSec) with one line
    naming the authentication error, no traceback and no password."""
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({unique("g"): {"routes": [{"topic": "t", "handler": "effects.record"}]}},
                                  extra={"redis": redis_section(acl, "url", WRONG_PASSWORD)}))
    worker = karafkad("worker", "-c", config, "--burst", timeout=60)
    assert worker.returncode == 3, worker.stderr
    assert "AuthenticationError" in worker.stderr
    assert "Traceback" not in worker.stderr
    assert_never_printed(WRONG_PASSWORD, worker.stdout, worker.stderr)


# --- secrets on every surface -----------------------------------------------------------------------------


def test_secrets_are_masked_on_every_surface_of_a_running_daemon(tmp_path: Path, acl: PasswordRedis) -> None:
    """With a SASL password and a Redis password inside the URL: `check`, `routes`, `explain`, the logs,
    /metrics, /status.json, the status page and `karafkad status` show neither (the URL's is `***`)."""
    topic, group = create_topic(unique("surf")), unique("g")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml(
        {group: {"routes": [{"topic": topic, "handler": "effects.record", "filter": "params.n >= 0"}]}},
        extra={"kafka": sasl_section(), "redis": redis_section(acl, "url", acl.password),
               "daemon": {"log_level": "debug"}}))
    env = {"KAFKA_PASSWORD": SCRAM_PASSWORD}
    outputs = []
    for command in (["check", "-c", config], ["routes", "-c", config],
                    ["explain", "-c", config, "-t", topic, "-v", '{"n": 1}']):
        result = karafkad(*command, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs += [result.stdout, result.stderr]
    pidfile = tmp_path / "karafkad.pid"
    kcat_produce(topic, [json.dumps({"n": 1}), "{broken"])
    daemon = Daemon(config, env=env, extra_args=["--pidfile", str(pidfile)]).start().wait_ready(90)
    wait_for(lambda: daemon.metric("karafkad_messages_consumed_total") >= 2, 60, "both messages are consumed")
    _, metrics = daemon.get("/metrics")
    _, status_json = daemon.get("/status.json")
    _, page = daemon.get("/")
    status = karafkad("status", "--pidfile", pidfile, "--http-port", str(daemon.http_port))
    assert status.returncode == 0, status.stdout
    assert daemon.stop() == 0, daemon.logs()
    snapshot = json.loads(status_json)
    assert snapshot["redis"] == f"redis://{SCRAM_USER}:***@127.0.0.1:{acl.port}/0"
    assert snapshot["kafka"]["sasl_plain_password"] == "***"
    assert f"redis: redis://{SCRAM_USER}:***@" in status.stdout
    logs = daemon.logs()
    assert any(e.get("event") == "started" and ":***@" in e.get("redis", "") for e in daemon.events())
    for secret in (SCRAM_PASSWORD, acl.password):
        assert_never_printed(secret, *outputs, logs, metrics, status_json, page, status.stdout, status.stderr)


# --- job payloads: JSON unless a route says pickle ---------------------------------------------------------


def _job_hashes(queue: str) -> list[dict[bytes, bytes]]:
    client = redis_client()
    return [client.hgetall(job_key(job_id.decode())) for job_id in client.lrange(queue_key(queue), 0, -1)]


def test_jobs_are_json_by_default_and_pickle_only_where_a_route_says_so(tmp_path: Path) -> None:
    """A job written with the default settings holds JSON (its data field decompresses to the JSON call,
    and no field of its hash is a pickle); only the route with `serializer: pickle` writes pickles."""
    topic, group = create_topic(unique("ser")), unique("g")
    json_queue, pickle_queue = unique("json"), unique("pickle")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [
        {"topic": topic, "handler": "effects.record", "queue": json_queue, "name": "plain"},
        {"topic": topic, "handler": "effects.record", "queue": pickle_queue, "name": "pickled",
         "job": {"serializer": "pickle"}}]}}))
    kcat_produce(topic, [json.dumps({"n": 7})])
    daemon = Daemon(config).start().wait_ready()
    wait_for(lambda: daemon.metric("karafkad_jobs_enqueued_total") >= 2, 60, "both jobs are enqueued")
    assert daemon.stop() == 0, daemon.logs()

    [plain] = _job_hashes(json_queue)
    call = json.loads(zlib.decompress(plain[b"data"]))
    assert call == ["effects.record", None, [{"n": 7}], {}]
    for name, value in plain.items():
        assert not _is_pickle(value), f"field {name!r} of a default job is a pickle"

    [pickled] = _job_hashes(pickle_queue)
    assert _is_pickle(pickled[b"data"])


def _is_pickle(value: bytes) -> bool:
    """Pickle protocol 2+ starts with PROTO (0x80); RQ compresses `data` with zlib first."""
    with contextlib.suppress(zlib.error):
        value = zlib.decompress(value)
    return value[:1] == b"\x80"


class _Touch:
    """Unpickling this creates a file: what a pickled job in Redis could do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def test_a_pickled_job_planted_in_redis_is_not_unpickled_by_karafkad_worker(tmp_path: Path) -> None:
    """Whoever can write to Redis can plant a job whose data is a pickle; `karafkad worker` on a JSON route's
    queue reads it as JSON, so the job fails and nothing in the pickle runs."""
    queue = unique("q")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({unique("g"): {"routes": [{"topic": "t", "handler": "effects.record",
                                                               "queue": queue}]}}))
    marker = tmp_path / "pwned"
    from rq import Queue
    from rq.serializers import PickleSerializer

    job = Queue(queue, connection=redis_client(), serializer=PickleSerializer).enqueue(
        "effects.record", _Touch(marker))  # the attacker's job: a pickled argument
    assert _is_pickle(redis_client().hget(job_key(job.id), "data") or b"")
    worker = karafkad("worker", "-c", config, "--burst", queue, env={"PYTHONPATH": str(HANDLERS)})
    assert worker.returncode == 0, worker.stderr
    assert not marker.exists(), "the planted pickle ran"
    assert "DeserializationError" in worker.stderr
    assert redis_client().zscore(f"rq:failed:{queue}", job.id) is not None, "the planted job is not failed"
