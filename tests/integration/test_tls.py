"""TLS against the real broker and Redis, with verification on: consuming, dead letters, producing, Redis.

scripts/kafka gives the broker an SSL listener on KARAFKAD_KAFKA_PORT + 3,
SASL_SSL (SCRAM user karafkad / karafkad-secret) on + 4, one that requires
a client certificate (MTLS) on + 5, and one whose certificate is for
wrong.example (BADHOST) on + 6; scripts/redis a TLS port beside Redis's own;
scripts/certs the CA and the good and bad certificates, in
$KARAFKAD_STATE_DIR/tls. Messages go in with kcat where it can (it cannot
do SCRAM against Kafka 4: there `karafkad produce` does). Host name
checking stays on everywhere: only the BADHOST test needs it, to fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from harness import (
    KAFKA_PORT,
    REDIS_URL,
    SERVICE_ENV,
    Daemon,
    committed_offsets,
    create_topic,
    effects,
    karafkad,
    kcat_produce,
    redis_client,
    routes_yaml,
    unique,
    wait_for,
)
from kafka import KafkaConsumer
from test_security import SCRAM_PASSWORD, SCRAM_USER, assert_never_printed, events_with

from karafkad.store.keys import queue_key

STATE = Path(SERVICE_ENV["KARAFKAD_STATE_DIR"])
TLS = Path(os.environ.get("KARAFKAD_TLS_DIR") or STATE / "tls")
KEY_PASSWORD = "karafkad-key-secret"
"""The password of client-encrypted.key (scripts/certs, client-key-password)."""

PORTS = {"ssl": KAFKA_PORT + 3, "sasl_ssl": KAFKA_PORT + 4, "mtls": KAFKA_PORT + 5, "badhost": KAFKA_PORT + 6}
LISTENERS = ("ssl", "sasl_ssl", "mtls")
SECRETS_ENV = {"KAFKA_PASSWORD": SCRAM_PASSWORD, "KEY_PASSWORD": KEY_PASSWORD}
"""What the routes files' ${KAFKA_PASSWORD} and ${KEY_PASSWORD} read."""


@pytest.fixture(autouse=True)
def _certificates() -> None:
    """scripts/kafka and scripts/redis generate the certificates when they start."""
    assert (TLS / "ca.pem").exists(), f"no certificates in {TLS}; run scripts/certs"
    assert (TLS / "client-key-password").read_text().strip() == KEY_PASSWORD


def kafka_section(listener: str, **overrides: str) -> dict[str, Any]:
    """A routes file's kafka section for one of the broker's TLS listeners, verification on.

    Passwords are ${KAFKA_PASSWORD} and ${KEY_PASSWORD}; mutual TLS uses the
    encrypted client key, so that ssl_password is exercised too.
    """
    section: dict[str, Any] = {"bootstrap_servers": f"127.0.0.1:{PORTS[listener]}", "client_id": "karafkad-tls",
                               "security_protocol": "SASL_SSL" if listener == "sasl_ssl" else "SSL",
                               "ssl_cafile": str(TLS / "ca.pem")}
    if listener == "sasl_ssl":
        section |= {"sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": SCRAM_USER,
                    "sasl_plain_password": "${KAFKA_PASSWORD}"}
    if listener == "mtls":
        section |= {"ssl_certfile": str(TLS / "client.pem"), "ssl_keyfile": str(TLS / "client-encrypted.key"),
                    "ssl_password": "${KEY_PASSWORD}"}
    return section | overrides


def with_client_certificate(name: str) -> dict[str, Any]:
    """The mutual-TLS section with scripts/certs' NAME.pem and its unencrypted NAME.key."""
    section = kafka_section("mtls", ssl_certfile=str(TLS / f"{name}.pem"), ssl_keyfile=str(TLS / f"{name}.key"))
    del section["ssl_password"]
    return section


def routes_file(folder: Path, sections: dict[str, Any], group: str = "g", **route: Any) -> Path:
    """routes.yaml in `folder` with these sections (kafka, redis, daemon) and one route (topic t unless given)."""
    config = folder / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [{"topic": "t", "handler": "effects.record", **route}]}},
                                  extra=sections))
    return config


def run_karafkad(*args: str | Path, stdin: str = "", env: dict[str, str] | None = None,
                 timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """The karafkad command, with SECRETS_ENV and `stdin`."""
    return karafkad(*args, stdin=stdin, env={**SECRETS_ENV, **(env or {})}, timeout=timeout)


def kcat_tls(listener: str, *args: str, payload: bytes | None = None) -> str:
    """kcat against a TLS listener (not SASL_SSL: Debian's librdkafka cannot do SCRAM against Kafka 4)."""
    tls = ["-X", "security.protocol=ssl", "-X", f"ssl.ca.location={TLS / 'ca.pem'}"]
    if listener == "mtls":
        tls += ["-X", f"ssl.certificate.location={TLS / 'client.pem'}", "-X", f"ssl.key.location={TLS / 'client.key'}"]
    result = subprocess.run(["kcat", "-b", f"127.0.0.1:{PORTS[listener]}", *tls, *args], input=payload,
                            check=True, timeout=60, capture_output=True)
    return result.stdout.decode("utf-8", "backslashreplace")


def produce(folder: Path, listener: str, topic: str, lines: list[str]) -> None:
    """Messages into `topic` over the listener: with kcat, or `karafkad produce` where kcat cannot."""
    text = "".join(f"{line}\n" for line in lines)
    if listener != "sasl_ssl":
        kcat_tls(listener, "-P", "-t", topic, "-X", "acks=all", payload=text.encode())
        return
    result = run_karafkad("produce", "-c", routes_file(folder, {"kafka": kafka_section(listener)}), "-t", topic,
                          stdin=text)
    assert result.returncode == 0, result.stderr


def read_back(listener: str, topic: str, count: int) -> list[tuple[dict[str, bytes], bytes]]:
    """(headers, value) of the first `count` messages of `topic`, read over the listener with kafka-python
    (fewer if they do not arrive within 30 s)."""
    options = {key: SECRETS_ENV[value[2:-1]] if str(value).startswith("${") else value
               for key, value in kafka_section(listener, client_id="karafkad-tls-reader").items()}
    consumer = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=30_000, **options)
    found = []
    try:
        for message in consumer:
            found.append((dict(message.headers), message.value))
            if len(found) == count:
                break
    finally:
        consumer.close()
    return found


def assert_clean(output: str) -> None:
    """No traceback, no private key and no password in `output`."""
    assert "Traceback" not in output, output[output.find("Traceback") - 500:][:3000]
    assert "PRIVATE KEY" not in output
    assert_never_printed(KEY_PASSWORD, output)
    assert_never_printed(SCRAM_PASSWORD, output)


def kafka_python_lines(daemon: Daemon) -> list[dict[str, Any]]:
    """The daemon's log events that came from kafka-python's own loggers."""
    return [e for e in daemon.events() if str(e.get("logger", "")).startswith("kafka")]


@pytest.fixture(scope="module")
def redis_tls_port() -> int:
    """The TLS port scripts/redis opened beside Redis's own."""
    port_file = STATE / "redis.tls-port"
    if not port_file.exists():
        pytest.fail(f"scripts/redis started without TLS ({port_file} is missing; is REDIS_PORT+1 taken?)")
    return int(port_file.read_text())


# --- consuming, dead letters and producing over each listener --------------------------------------------


@pytest.mark.parametrize("listener", LISTENERS)
def test_messages_over_a_tls_listener_become_jobs_and_rejects_become_dead_letters(tmp_path: Path,
                                                                                  listener: str) -> None:
    """Over SSL, SASL_SSL (SCRAM) and mutual TLS (an encrypted client key): every good message is one job, the
    rejected one reaches its dead-letter topic (read back over the same listener) with its reason, the offsets
    are committed, and the daemon's output holds no traceback, key or password."""
    topic, dead, group, queue = create_topic(unique(listener)), create_topic(unique("dead")), unique("g"), unique("q")
    produce(tmp_path, listener, topic, [json.dumps({"n": 1}), "{not json", json.dumps({"n": 2})])
    config = routes_file(tmp_path, {"kafka": kafka_section(listener)}, group, topic=topic, queue=queue,
                         dead_letter=dead)
    daemon = Daemon(config, env=SECRETS_ENV).start().wait_ready(90)
    wait_for(lambda: committed_offsets(group, topic) == {0: 3}, 60, "all three messages are handled and committed")
    assert daemon.stop() == 0, daemon.logs()
    assert redis_client().llen(queue_key(queue)) == 2
    [(headers, value)] = read_back(listener, dead, 1)
    assert value == b"{not json"
    assert headers["karafkad.error_kind"] == b"decode"
    assert_clean(daemon.logs())
    assert kafka_python_lines(daemon) == []


@pytest.mark.parametrize("listener", LISTENERS)
def test_karafkad_produce_sends_over_each_tls_listener(tmp_path: Path, listener: str) -> None:
    """`karafkad produce -c routes.yaml` sends over SSL, SASL_SSL and mutual TLS with the routes file's
    settings; what arrives (read back over the listener) is what was sent."""
    topic = create_topic(unique("produce"))
    result = run_karafkad("produce", "-c", routes_file(tmp_path, {"kafka": kafka_section(listener)}), "-t", topic,
                          "--json", stdin='{"n": 1}\n{"n": 2}\n')
    assert result.returncode == 0, result.stderr
    assert "2 messages sent" in result.stdout
    assert [value for _, value in read_back(listener, topic, 2)] == [b'{"n": 1}', b'{"n": 2}']
    assert_clean(result.stdout + result.stderr)


# --- Redis over TLS -----------------------------------------------------------------------------------------


def test_redis_over_tls_enqueues_and_a_worker_runs_the_jobs(tmp_path: Path, redis_tls_port: int) -> None:
    """With a rediss:// url, the CA and a client certificate (encrypted key): the daemon becomes ready (its
    readiness pings Redis over TLS), writes the jobs, and `karafkad worker` runs them over TLS."""
    topic, group, queue = create_topic(unique("rtls")), unique("g"), unique("q")
    redis = {"url": f"rediss://127.0.0.1:{redis_tls_port}/0", "ssl_ca_certs": str(TLS / "ca.pem"),
             "ssl_certfile": str(TLS / "client.pem"), "ssl_keyfile": str(TLS / "client-encrypted.key"),
             "ssl_password": "${KEY_PASSWORD}"}
    config = routes_file(tmp_path, {"redis": redis}, group, topic=topic, queue=queue)
    kcat_produce(topic, [json.dumps({"n": n}) for n in range(3)])
    daemon = Daemon(config, env=SECRETS_ENV).start().wait_ready(90)
    wait_for(lambda: redis_client().llen(queue_key(queue)) == 3, 60, "3 jobs are in Redis")
    _, status = daemon.get("/status.json")
    assert daemon.stop() == 0, daemon.logs()
    assert json.loads(status)["redis"] == f"rediss://127.0.0.1:{redis_tls_port}/0"
    worker = run_karafkad("worker", "-c", config, "--burst", queue, env={"EFFECTS_REDIS_URL": REDIS_URL})
    assert worker.returncode == 0, worker.stderr
    assert effects() == {0: 1, 1: 1, 2: 1}
    assert_clean(daemon.logs() + worker.stdout + worker.stderr)


# --- each misconfiguration: one clear line -------------------------------------------------------------------

MISCONFIGURED: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "wrong_ca": (kafka_section("ssl", ssl_cafile=str(TLS / "wrong-ca.pem")),
                 ("the broker's certificate is not signed by the CA in ssl_cafile",)),
    "hostname_mismatch": (kafka_section("badhost"),
                          ("hostname mismatch: the broker's certificate is not valid for 127.0.0.1",)),
    # Under TLS 1.3 the broker's alert is sometimes lost in its closing of the socket ("closed the TLS
    # connection, refusing the client certificate: ..."): the certificate file gives the same cause.
    "expired_client_certificate": (with_client_certificate("client-expired"),
                                   ("refused the client certificate: expired on 2020-01-02",
                                    "refusing the client certificate: expired on 2020-01-02")),
    "missing_client_certificate": (kafka_section("ssl", bootstrap_servers=f"127.0.0.1:{PORTS['mtls']}"),
                                   ("the broker requires a client certificate and none is configured",)),
    "client_certificate_from_another_ca": (
        with_client_certificate("client-wrong-ca"),
        ("the client certificate: it is signed by 'karafkad WRONG CA', not by the CA in ssl_cafile",)),
}
"""Case -> (kafka section, what its cause says, in one of these words)."""


def _handshakes_refused(port: int) -> int:
    """TLS handshakes on `port` that the broker logged as failed."""
    log = STATE / "logs" / "kafka.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return sum(1 for line in text.splitlines() if "Failed authentication with" in line and f":{port}-" in line)


@pytest.mark.parametrize("case", list(MISCONFIGURED))
def test_each_kafka_tls_misconfiguration_is_one_clear_line_retried_with_backoff(tmp_path: Path, case: str) -> None:
    """A wrong CA, a hostname mismatch, an expired, missing or foreign client certificate: the daemon stays up
    and not ready, logs one line naming the listener and the cause in words instead of kafka-python's lines
    and tracebacks, retries at a bounded rate (the broker sees a few handshakes a second at most), and still
    drains on SIGTERM."""
    section, says = MISCONFIGURED[case]
    port = int(section["bootstrap_servers"].rsplit(":", 1)[1])
    topic, group = create_topic(unique("bad")), unique("g")
    config = routes_file(tmp_path, {"kafka": section}, group, topic=topic)
    before, started = _handshakes_refused(port), time.monotonic()
    daemon = Daemon(config, env=SECRETS_ENV).start()
    wait_for(lambda: events_with(daemon, "Kafka TLS connection failed"), 60, "the daemon reports the TLS failure")
    time.sleep(3)  # a few retries
    assert daemon.proc is not None and daemon.proc.poll() is None, daemon.logs()
    assert daemon.get("/ready")[0] == 503
    refused, elapsed = _handshakes_refused(port) - before, time.monotonic() - started
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(60) == 0, daemon.logs()
    [report] = events_with(daemon, "Kafka TLS connection failed")
    assert report["level"] == "error"
    assert report["listener"] == f"127.0.0.1:{port} (SSL)"
    assert any(said in report["cause"] for said in says), report["cause"]
    # kafka-python backs off per connection (50 ms doubling to 2 s here) and the consumer thread between
    # clients (0.2 s doubling to 10 s): a few handshakes a second at the very most, never a spin.
    assert 1 <= refused <= 5 * elapsed + 5, (refused, elapsed)
    # The consumer thread gave its client up when kafka-python's bootstrap timed out (the drain waited
    # for that); it says the same cause.
    retries = events_with(daemon, "consumer failed")
    assert retries, daemon.logs()
    for event in retries:
        assert event["error"].startswith(f"cannot connect to Kafka at 127.0.0.1:{port} (SSL): "), event
        assert any(said in event["error"] for said in says), event
    assert kafka_python_lines(daemon) == [], kafka_python_lines(daemon)[:3]
    assert_clean(daemon.logs())
    assert committed_offsets(group, topic) == {}


@pytest.mark.parametrize("case", list(MISCONFIGURED))
def test_karafkad_produce_says_each_tls_misconfiguration_in_one_line(tmp_path: Path, case: str) -> None:
    """`karafkad produce` (which runs without the daemon's logging) prints exactly one line, naming the listener
    and the cause, exits 3 and sends nothing; none of kafka-python's lines reach the terminal."""
    section, says = MISCONFIGURED[case]
    result = run_karafkad("produce", "-c", routes_file(tmp_path, {"kafka": section}), "-t", "t", "--timeout", "4",
                          stdin='{"n": 1}\n')
    assert result.returncode == 3, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"karafkad: cannot produce to 't': cannot connect to Kafka at "
                           f"{section['bootstrap_servers']} (SSL): "), line
    assert any(said in line for said in says), line
    assert result.stdout == ""
    assert_clean(result.stderr)


@pytest.mark.parametrize("section", ["kafka", "redis"])
def test_a_missing_ca_file_is_refused_before_anything_connects(tmp_path: Path, section: str) -> None:
    """A CA file that is not there is a routes-file problem with file, line and key: `karafkad start` exits 1
    (systemd does not restart on it) without connecting."""
    missing = tmp_path / "tls" / "ca.pem"
    sections: dict[str, Any] = (
        {"kafka": kafka_section("ssl", ssl_cafile="tls/ca.pem")} if section == "kafka" else
        {"redis": {"url": "rediss://127.0.0.1:1/0", "ssl_ca_certs": "tls/ca.pem"}})
    config = routes_file(tmp_path, sections)
    result = run_karafkad("start", "-c", config, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    key = "ssl_cafile" if section == "kafka" else "ssl_ca_certs"
    line = next(x for x in result.stderr.splitlines() if f"{section}.{key}" in x)
    assert line.startswith(f"{config}:") and line.endswith(f"{section}.{key}: {missing} does not exist"), line
    assert "Traceback" not in result.stderr


# --- Redis misconfigured --------------------------------------------------------------------------------------

REDIS_MISCONFIGURED = {
    "wrong_ca": ({"ssl_ca_certs": str(TLS / "wrong-ca.pem")},
                 "the Redis server's certificate is not signed by the CA in ssl_ca_certs"),
    "expired_client_certificate": ({"ssl_certfile": str(TLS / "client-expired.pem"),
                                    "ssl_keyfile": str(TLS / "client-expired.key")}, "expired on 2020-01-02"),
    "client_certificate_from_another_ca": ({"ssl_certfile": str(TLS / "client-wrong-ca.pem"),
                                            "ssl_keyfile": str(TLS / "client-wrong-ca.key")},
                                           "it is signed by 'karafkad WRONG CA', not by the CA in ssl_ca_certs"),
}


def _redis_section(port: int, case: str) -> dict[str, Any]:
    return {"url": f"rediss://127.0.0.1:{port}/0", "ssl_ca_certs": str(TLS / "ca.pem"),
            **REDIS_MISCONFIGURED[case][0]}


@pytest.mark.parametrize("case", list(REDIS_MISCONFIGURED))
def test_karafkad_worker_says_a_redis_tls_misconfiguration_in_one_line(tmp_path: Path, redis_tls_port: int,
                                                                       case: str) -> None:
    """A wrong CA, an expired client certificate or one from another CA: `karafkad worker` exits 3 with one
    line saying where Redis is and the cause in words."""
    config = routes_file(tmp_path, {"redis": _redis_section(redis_tls_port, case)})
    worker = run_karafkad("worker", "-c", config, "--burst", timeout=60)
    assert worker.returncode == 3, worker.stderr
    [line] = [x for x in worker.stderr.splitlines() if x.startswith("karafkad:")]
    assert line.startswith(f"karafkad: worker stopped: ConnectionError: TLS with rediss://127.0.0.1:{redis_tls_port}"
                           "/0 failed: "), line
    assert REDIS_MISCONFIGURED[case][1] in line, line
    assert_clean(worker.stderr)


def test_the_daemon_says_why_redis_over_tls_is_down_and_keeps_the_batch(tmp_path: Path, redis_tls_port: int) -> None:
    """With a Redis CA that does not match, the daemon stays up and not ready, and both its start-up warning
    and its "cannot read the partitions' marks" line (the records are given back, the partitions paused)
    give the TLS cause; nothing is committed."""
    topic, group = create_topic(unique("rbad")), unique("g")
    config = routes_file(tmp_path, {"redis": _redis_section(redis_tls_port, "wrong_ca"),
                                    "daemon": {"shutdown_timeout": 3}}, group, topic=topic)
    kcat_produce(topic, [json.dumps({"n": 1})])
    daemon = Daemon(config).start()
    waiting = "cannot read the partitions' marks from Redis"
    wait_for(lambda: events_with(daemon, waiting), 60, "the daemon reports it cannot read from Redis")
    assert daemon.get("/ready")[0] == 503
    assert daemon.stop() == 0, daemon.logs()  # nothing was taken, so nothing is given up
    assert committed_offsets(group, topic).get(0, 0) == 0  # and nothing committed past the message
    cause = REDIS_MISCONFIGURED["wrong_ca"][1]
    [unreachable] = events_with(daemon, "Redis is not reachable yet")
    assert cause in unreachable["error"], unreachable
    assert cause in events_with(daemon, waiting)[0]["error"]
    assert_clean(daemon.logs())
