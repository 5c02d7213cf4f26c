"""Records in the Confluent wire format, framed by confluent-kafka's own serializers against a real registry.

Avro (two schema versions on one topic, the second adding a field with a
default), Protobuf (a nested message: message indexes other than [0]) and
JSON Schema records become one job each, with the params the docs promise;
what is the record's fault (an unknown schema id, a wrong first byte, a cut
record) is a dead letter with its reason and the raw bytes; a registry that
stops answering, hangs or refuses the credentials pauses consuming and
dead-letters nothing. The registry is scripts/registry's Apicurio Registry
with basic auth, reached over HTTPS.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import registry
from harness import (
    BOOTSTRAP,
    Daemon,
    Forwarder,
    create_topic,
    job_ids,
    job_prefix,
    karafkad,
    redis_client,
    routes_yaml,
    unique,
    wait_for,
    wait_until_consumed,
)
from rq.job import Job
from rq.serializers import JSONSerializer

pytestmark = pytest.mark.usefixtures("schema_registry")

ORDER_V1 = {"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "n", "type": "long"},
    {"name": "total", "type": "double"},
    {"name": "currency", "type": "string"},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
]}
ORDER_V2 = {**ORDER_V1, "fields": [*ORDER_V1["fields"], {"name": "channel", "type": "string", "default": "web"}]}

SHOP_PROTO = """\
syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";

message Header { string source = 1; }

message Shipment {
  message Parcel { string sku = 1; int32 qty = 2; }
  enum Status { NEW = 0; SENT = 1; }
  int64 n = 1;
  string carrier = 2;
  repeated Parcel parcels = 3;
  map<string, string> labels = 4;
  oneof target { string address = 5; string locker = 6; }
  google.protobuf.Timestamp at = 7;
  Status status = 8;
}
"""

AT = datetime(2026, 11, 24, 17, 0, 0, 250000, tzinfo=UTC)
AT_TEXT = "2026-11-24T17:00:00.250000Z"


@pytest.fixture(scope="module")
def shop_pb2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """shop.proto compiled by protoc into the Python module an application would use."""
    folder = tmp_path_factory.mktemp("proto")
    (folder / "shop.proto").write_text(SHOP_PROTO)
    from grpc_tools import protoc

    include = str(Path(protoc.__file__).parent / "_proto")
    assert protoc.main(["protoc", f"-I{folder}", f"-I{include}", f"--python_out={folder}", "shop.proto"]) == 0
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("shop_pb2")
    finally:
        sys.path.remove(str(folder))


def _serializers(topic: str) -> tuple[Any, Any]:
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = registry.serializer_client()
    v1 = AvroSerializer(client, json.dumps(ORDER_V1))
    v2 = AvroSerializer(client, json.dumps(ORDER_V2))
    context = SerializationContext(topic, MessageField.VALUE)
    return (lambda data: v1(data, context)), (lambda data: v2(data, context))


def _job_params(queue: str) -> dict[str, Any]:
    """Job id -> its first argument, as a worker reads it (RQ's JSON serializer)."""
    client = redis_client()
    return {job_id: Job.fetch(job_id, connection=client, serializer=JSONSerializer).args[0]
            for job_id in job_ids(queue)}


def _dead_letters(topic: str, count: int, timeout: float = 60) -> list[tuple[bytes, dict[str, str]]]:
    """(raw value, karafkad headers) of the first `count` dead letters of `topic`, read by confluent-kafka."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": unique("dl-reader"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    found: list[tuple[bytes, dict[str, str]]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            headers = {k: (v or b"").decode() for k, v in message.headers() or []}
            found.append((message.value(), headers))
    finally:
        consumer.close()
    return found


def _config(tmp_path: Path, group: str, routes: list[dict[str, Any]], **section: Any) -> Path:
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": routes}},
                                  extra={"schema_registry": registry.section(**section)}))
    return config


def test_framed_records_of_the_reference_serializers_become_jobs_and_bad_ones_dead_letters(
        tmp_path: Path, shop_pb2: Any) -> None:
    """Avro records of two schema versions, Protobuf messages (indexes [1] and [1, 0]) and JSON Schema records,
    framed by confluent-kafka's serializers and sent by its producer, become one job each with the documented
    params (a reader schema fills the new field's default into old records; filters read decoded fields); an
    unknown schema id, a wrong first byte and a cut record are dead letters with their reason and raw bytes,
    and the records after them are still consumed; `karafkad produce --subject` records come out as they went
    in."""
    from confluent_kafka.schema_registry.json_schema import JSONSerializer as JsonFramer
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    avro_topic, proto_topic, json_topic = (create_topic(unique(p)) for p in ("av", "pb", "js"))
    dead, queue, group = unique("dl"), unique("q"), unique("g")
    create_topic(dead)
    v1, v2 = _serializers(avro_topic)
    avro = [v1({"n": n, "total": 5.0 * n, "currency": "EUR", "at": AT}) for n in range(4)]
    avro += [v2({"n": n, "total": 5.0 * n, "currency": "EUR", "at": AT, "channel": "app"}) for n in range(4, 8)]
    unknown = b"\x00\x00\x0f\x42\x3f" + avro[0][5:]           # schema id 999999: not the registry's
    not_framed = b'{"n": 99}'                                   # plain JSON: the first byte is "{"
    cut = avro[7][:-4]                                          # a record cut short
    client = registry.serializer_client()
    shipment = ProtobufSerializer(shop_pb2.Shipment, client, {"use.deprecated.format": False})
    parcel = ProtobufSerializer(shop_pb2.Shipment.Parcel, client, {"use.deprecated.format": False})
    proto_context = SerializationContext(proto_topic, MessageField.VALUE)
    message = shop_pb2.Shipment(n=1, carrier="dhl", locker="L-7", status=shop_pb2.Shipment.SENT,
                                parcels=[shop_pb2.Shipment.Parcel(sku="a", qty=2)])
    message.labels["fragile"] = "yes"
    message.at.FromDatetime(AT)
    framed_json = JsonFramer(json.dumps({"type": "object", "required": ["n", "sku"],
                                         "properties": {"n": {"type": "integer"}, "sku": {"type": "string"}}}),
                             client)
    json_context = SerializationContext(json_topic, MessageField.VALUE)

    route = {"queue": queue, "handler": "effects.record", "dead_letter": dead}
    config = _config(tmp_path, group, [
        {**route, "name": "orders", "topic": avro_topic, "decode": "avro", "filter": "params.total >= 10",
         "subject": f"{avro_topic}-value"},
        {**route, "name": "orders-v2", "topic": avro_topic, "decode": "avro", "reader_schema": ORDER_V2},
        {**route, "name": "shipments", "topic": proto_topic, "decode": "protobuf"},
        {**route, "name": "parcels", "topic": json_topic, "decode": "json_schema", "filter": 'params.sku != "x"',
         "schema": {"type": "object", "required": ["n"]}},
    ])
    registry.produce(avro_topic, [*avro, unknown, not_framed, cut, avro[2]])
    registry.produce(proto_topic, [shipment(message, proto_context),
                                   parcel(shop_pb2.Shipment.Parcel(sku="b", qty=1), proto_context)])
    registry.produce(json_topic, [framed_json({"n": 1, "sku": "a"}, json_context),
                                  framed_json({"n": 2, "sku": "x"}, json_context)])
    daemon = Daemon(config).start().wait_ready()
    for topic in (avro_topic, proto_topic, json_topic):
        wait_until_consumed(daemon, topic, group)

    produced = tmp_path / "orders.jsonl"
    produced.write_text('{"n": 100, "total": 12.5, "currency": "USD", "at": "2026-01-02T03:04:05Z", '
                        '"channel": "cli"}\n')
    sent = karafkad("produce", "-c", config, "-t", avro_topic, "--subject", f"{avro_topic}-value", produced)
    assert sent.returncode == 0, sent.stderr
    wait_until_consumed(daemon, avro_topic, group)

    params = _job_params(queue)
    orders, orders_v2, shipments, parcels = (
        {int(i.rsplit("-", 1)[1]): p for i, p in params.items() if i.startswith(job_prefix(group, t, r) + "-")}
        for t, r in ((avro_topic, "orders"), (avro_topic, "orders-v2"), (proto_topic, "shipments"),
                     (json_topic, "parcels")))

    def order(n: int, channel: str | None) -> dict[str, Any]:
        return {"n": n, "total": 5.0 * n, "currency": "EUR", "at": AT_TEXT,
                **({"channel": channel} if channel else {})}

    # Offsets 0-3 are v1, 4-7 v2, 8-10 the bad ones, 11 a copy of n=2, 12 what `karafkad produce` sent.
    assert orders == {**{n: order(n, None) for n in (2, 3)}, **{n: order(n, "app") for n in range(4, 8)},
                      11: order(2, None),
                      12: {"n": 100, "total": 12.5, "currency": "USD", "at": "2026-01-02T03:04:05Z",
                           "channel": "cli"}}
    assert orders_v2 == {**{n: order(n, "web") for n in range(4)}, **{n: order(n, "app") for n in range(4, 8)},
                         11: order(2, "web"), 12: orders[12]}
    assert shipments == {
        0: {"n": 1, "carrier": "dhl", "parcels": [{"sku": "a", "qty": 2}], "labels": {"fragile": "yes"},
            "locker": "L-7", "at": AT_TEXT.replace(".250000", ".250"), "status": "SENT"},
        1: {"sku": "b", "qty": 1}}
    assert parcels == {0: {"n": 1, "sku": "a"}}

    letters = _dead_letters(dead, 3)
    assert [(raw, h["karafkad.error_kind"], h["karafkad.original_offset"]) for raw, h in letters] == [
        (unknown, "decode", "8"), (not_framed, "decode", "9"), (cut, "decode", "10")]
    reasons = [h["karafkad.error"] for _, h in letters]
    assert re.search(r"schema id 999999 is not in the schema registry", reasons[0]), reasons
    assert "not in the Confluent wire format: the first byte is 0x7b" in reasons[1], reasons
    assert "does not decode as Avro with schema" in reasons[2], reasons
    assert letters[0][1]["karafkad.route"] == "orders,orders-v2"
    assert daemon.stop() == 0


def test_a_registry_that_stops_or_hangs_pauses_consuming_and_loses_nothing(tmp_path: Path) -> None:
    """With records of a schema id the daemon has not fetched yet, a registry that refuses connections (stopped)
    and then hangs (frozen) pauses the partitions: /ready says why, the status page's waiting line names the
    registry, nothing is dead-lettered and nothing is enqueued; once it answers, every record becomes exactly
    one job."""
    topic, dead, queue, group = create_topic(unique("av"), partitions=2), unique("dl"), unique("q"), unique("g")
    create_topic(dead)
    v1, v2 = _serializers(topic)
    proxy = Forwarder(registry.TLS_PORT).open()  # the registry as the daemon reaches it; closing it stops it
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [
        {"name": "orders", "topic": topic, "decode": "avro", "queue": queue, "handler": "effects.record",
         "dead_letter": dead}]}}, extra={"schema_registry": {
            **registry.section(timeout=1.0), "url": f"https://127.0.0.1:{proxy.port}{registry.API}"}}))
    registry.produce(topic, [v1({"n": n, "total": 1.0, "currency": "EUR", "at": AT}) for n in range(20)])
    daemon = Daemon(config).start().wait_ready()
    try:
        wait_until_consumed(daemon, topic, group)
        later = [v2({"n": n, "total": 1.0, "currency": "EUR", "at": AT, "channel": "app"}) for n in range(20, 40)]
        proxy.close()  # the registry is gone: connections refused
        registry.produce(topic, later[:10])
        wait_for(lambda: "connection refused" in daemon.get("/ready")[1], 30, "/ready says the registry is down")

        def waiting() -> list[str]:
            """The threads' waiting lines on the status snapshot (made on the daemon's tick, so a moment later)."""
            status = json.loads(daemon.get("/status.json")[1])
            return [t["waiting"] for g in status["groups"].values() for t in g["threads"] if t["waiting"]]

        wait_for(lambda: bool(waiting()), 10, lambda: f"the status says why the threads wait ({waiting()})")
        lines = waiting()
        assert all(w.startswith("schema_registry: schema registry https://") for w in lines), lines
        assert json.loads(daemon.get("/status.json")[1])["schema_registry"]["outage"]
        proxy.open()
        frozen = registry.script("freeze")  # then it hangs: every request times out
        assert frozen.returncode == 0, frozen.stderr
        try:
            registry.produce(topic, later[10:])
            wait_for(lambda: "no answer within 1 s" in daemon.get("/ready")[1], 30, "/ready says it hangs")
            time.sleep(1)
            assert len(job_ids(queue)) == 20, "records of the unknown schema id were enqueued"
        finally:
            registry.script("thaw")
        wait_until_consumed(daemon, topic, group, timeout=60)
        wait_for(lambda: daemon.get("/ready")[0] == 200, 30, "ready again")
    finally:
        proxy.close()
    dead_letters = daemon.metric("karafkad_dead_letters_total")
    pauses = daemon.metric("karafkad_backpressure_events_total", reason="schema_registry")
    assert daemon.stop() == 0
    ids = job_ids(queue)
    assert len(ids) == len(set(ids)) == 40, "a record was lost or enqueued twice"
    assert sorted(p["n"] for p in _job_params(queue).values()) == list(range(40))
    assert dead_letters == 0
    assert pauses >= 2
    logged = [e["event"] for e in daemon.events() if "schema registry" in e.get("event", "")]
    assert any("answers again" in event for event in logged), logged


def test_a_wrong_password_is_one_clear_line_without_the_secret_and_a_bounded_retry(tmp_path: Path) -> None:
    """Credentials the registry refuses: the daemon says so in one warning naming the registry and the user (never
    the password), retries with backoff (a handful of tries in seconds, not a busy loop), dead-letters nothing,
    enqueues nothing, and /ready says why it is not ready."""
    topic, dead, queue, group = create_topic(unique("av")), unique("dl"), unique("q"), unique("g")
    create_topic(dead)
    v1, _ = _serializers(topic)
    wrong = "wrong-" + registry.PASSWORD
    config = _config(tmp_path, group, [{"name": "orders", "topic": topic, "decode": "avro", "queue": queue,
                                        "handler": "effects.record", "dead_letter": dead}], password=wrong)
    registry.produce(topic, [v1({"n": n, "total": 1.0, "currency": "EUR", "at": AT}) for n in range(5)])
    daemon = Daemon(config).start()
    wait_for(lambda: "refused the credentials" in daemon.logs(), 60, "the refusal is logged")
    first = daemon.metric("karafkad_backpressure_events_total", reason="schema_registry")
    time.sleep(6)
    tries = daemon.metric("karafkad_backpressure_events_total", reason="schema_registry") - first
    code, body = daemon.get("/ready")
    dead_letters = daemon.metric("karafkad_dead_letters_total")
    logs = daemon.logs()
    assert daemon.stop() == 0
    warnings = [e for e in daemon.events() if "refused the credentials" in json.dumps(e)]
    assert len(warnings) == 1, warnings
    assert f"user '{registry.READER}'" in warnings[0]["error"] and registry.TLS_URL in warnings[0]["error"]
    assert registry.PASSWORD not in logs and wrong not in logs
    assert 1 <= tries <= 6, f"{tries} tries in 6 s: the backoff doubles up to 5 s"
    assert code == 503 and "refused the credentials" in body and wrong not in body
    assert job_ids(queue) == []
    assert dead_letters == 0


def test_check_explain_and_route_tests_speak_to_the_registry(tmp_path: Path) -> None:
    """`karafkad check` warns that the registry cannot be reached, or names a declared subject it does not have;
    `explain --hex` decodes a framed record; `explain --subject` and route tests encode a JSON value with a
    registered schema first."""
    topic, queue, group = unique("av"), unique("q"), unique("g")
    v1, _ = _serializers(topic)
    framed = v1({"n": 3, "total": 15.0, "currency": "EUR", "at": AT})
    route = {"name": "orders", "topic": topic, "decode": "avro", "queue": queue, "handler": "effects.record",
             "filter": "params.total > 10", "subject": [f"{topic}-value", "nowhere-value"]}
    config = _config(tmp_path, group, [route])
    (tmp_path / "routes_test.yaml").write_text(json.dumps({"tests": [
        {"name": "a big order", "topic": topic, "value": {"n": 4, "total": 20.0, "currency": "EUR", "at": AT_TEXT},
         "subject": f"{topic}-value", "expect": [{"route": "orders", "enqueue": {"params": {
             "n": 4, "total": 20.0, "currency": "EUR", "at": AT_TEXT}}}]},
        {"name": "framed by hand", "topic": topic, "hex": framed.hex(),
         "expect": [{"route": "orders", "enqueue": {}}]}]}))

    checked = karafkad("check", "-c", config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "expects subject 'nowhere-value', which the registry does not have (yet) (warning)" in checked.stdout
    assert "2 route tests passed" in checked.stdout

    explained = karafkad("explain", "-c", config, "-t", topic, "--hex", framed.hex())
    assert explained.returncode == 0, explained.stderr
    assert 'decode (avro): {"n": 3, "total": 15.0, "currency": "EUR"' in explained.stdout, explained.stdout
    assert "filter 'params.total > 10': true" in explained.stdout, explained.stdout
    encoded = karafkad("explain", "-c", config, "-t", topic, "--subject", f"{topic}-value",
                       "-v", json.dumps({"n": 5, "total": 1.0, "currency": "EUR", "at": AT_TEXT}))
    assert "filter 'params.total > 10': false" in encoded.stdout, encoded.stdout + encoded.stderr

    nowhere = _config(tmp_path, group, [route], password="irrelevant")
    nowhere.write_text(nowhere.read_text().replace(str(registry.TLS_PORT), str(registry.free_port())))
    (tmp_path / "routes_test.yaml").unlink()
    unreachable = karafkad("check", "-c", nowhere)
    assert unreachable.returncode == 0, unreachable.stdout + unreachable.stderr
    assert re.search(r"schema_registry: cannot be reached \(schema registry https://127\.0\.0\.1:\d+/apis/ccompat/v7 "
                     r"as karafkad-reader: connection refused", unreachable.stdout), unreachable.stdout
    assert "irrelevant" not in unreachable.stdout + unreachable.stderr

