"""The schema registry of scripts/registry (Apicurio Registry), as the Schema Registry tests drive it.

A real registry, with basic auth and HTTPS on, so that every test goes
through the credentials and TLS a production registry asks for. Records are
framed by confluent-kafka's own serializers and sent by its own producer
(librdkafka): a reference implementation karafkad did not write.
"""

from __future__ import annotations

import base64
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness import BOOTSTRAP, KAFKA_PORT, SCRIPTS, SERVICE_ENV, free_port, wait_for

__all__ = ["free_port"]

PORT = int(os.environ.get("KARAFKAD_REGISTRY_PORT", KAFKA_PORT + 10))
"""scripts/test's: the Kafka port + 10 unless KARAFKAD_REGISTRY_PORT says otherwise."""
TLS_PORT = PORT + 2
PASSWORD = os.environ.get("KARAFKAD_REGISTRY_PASSWORD", "registry-test-secret")
"""scripts/test starts the registry with this password (users `karafkad`, admin, and `karafkad-reader`)."""
WRITER, READER = "karafkad", "karafkad-reader"
STATE_DIR = Path(SERVICE_ENV["KARAFKAD_STATE_DIR"])
CA = STATE_DIR / "tls" / "ca.pem"
API = "/apis/ccompat/v7"
URL = f"http://127.0.0.1:{PORT}{API}"
TLS_URL = f"https://127.0.0.1:{TLS_PORT}{API}"
ENV = {**SERVICE_ENV, "KARAFKAD_REGISTRY_PORT": str(PORT), "KARAFKAD_REGISTRY_PASSWORD": PASSWORD}


def script(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPTS / "registry"), *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout, check=False)


def ensure_running() -> bool:
    """Wait for the registry scripts/test started in the background (or start it); True when this call started it.
    A registry found running without auth (started by hand) is restarted with it."""
    if script("status").returncode == 0:
        wait_for(answers, 240, "the schema registry answers (scripts/test started it in the background)")
        if _status(URL + "/schemas/types", None) == 200:  # no auth: not the registry these tests need
            script("stop")
        else:
            return False
    started = script("start")
    assert started.returncode == 0, started.stderr[-2000:]
    return True


def answers() -> bool:
    return _status(URL + "/schemas/types", (WRITER, PASSWORD)) == 200


def _status(url: str, auth: tuple[str, str] | None) -> int:
    request = urllib.request.Request(url)  # noqa: S310 - the test registry's http URL
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - as above
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def section(*, password: str = PASSWORD, user: str = READER, timeout: float = 2.0) -> dict[str, Any]:
    """The routes file's `schema_registry` for the test registry: HTTPS with its CA, basic auth as the reader."""
    return {"url": TLS_URL, "username": user, "password": password, "ssl_cafile": str(CA), "timeout": timeout}


def serializer_client() -> Any:
    """confluent-kafka's registry client, as a producer's serializers use it (it registers schemas)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    # A timeout (its default is none): once in a suite run a request went unanswered and the test waited
    # out pytest's 300 s; timed out, the client retries it (max.retries) on a new connection.
    return SchemaRegistryClient({"url": URL, "basic.auth.user.info": f"{WRITER}:{PASSWORD}", "timeout": 20})


def produce(topic: str, values: Iterable[bytes], key: bytes | None = None) -> None:
    """Send framed values with confluent-kafka's producer (librdkafka), acknowledged by all replicas."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": BOOTSTRAP, "acks": "all", "linger.ms": 5})
    for value in values:
        producer.produce(topic, value=value, key=key)
    assert producer.flush(30) == 0, "confluent-kafka did not deliver every framed record"
