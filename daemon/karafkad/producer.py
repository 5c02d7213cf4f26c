"""Send messages to Kafka from applications and handlers (karafkad's counterpart of Karafka's WaterDrop).

Three ways to send: `send`/`send_json` wait until the broker acknowledged the
message and raise ProduceError when it did not; `send_all` sends several at
once and waits for exactly those; `buffer`/`buffer_json` hand the message to
the client's background sender and return at once, and `flush()` (or
`close()`, or leaving a `with` block) waits for everything buffered and
raises ProduceError naming every message that was not delivered. A delivery
error is never dropped: it is raised by the next flush, close or `with`
exit, whichever thread calls it; threads that share a producer and must
each know the fate of their own messages use `send` or `send_all`.

A message sent inside an OpenTelemetry span carries its trace context in
its headers unless they have a traceparent already (tracing/current.py).

Connection settings are the routes file's `kafka` section (`from_config`),
or the same keys as keyword arguments, checked by the same JSON Schema, so
SSL and SASL work exactly as they do for the daemon. With a Schema Registry
(the routes file's `schema_registry`, or `schema_registry=` its keys),
`encoder(subject)` encodes data with a registered schema in the Confluent
wire format the routes' `avro`, `protobuf` and `json_schema` decode.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from karafkad.clients.kafka.failures import explain
from karafkad.clients.kafka.producing import Headers, as_bytes, encode_json, header_pairs, kafka_producer, key_text
from karafkad.clients.kafka.types import ProducerClient, SendFuture
from karafkad.clients.kafka.workarounds import producer_state
from karafkad.clients.registry.api import RegisteredSchema, RegistryClient
from karafkad.clients.registry.store import Encoder, SchemaStore
from karafkad.config.loading import load_config
from karafkad.config.sections import kafka_settings, registry_settings
from karafkad.config.settings import Config, KafkaSettings, RegistrySettings
from karafkad.errors import KarafkadError
from karafkad.tracing.current import with_current_context

__all__ = ["TIMEOUT", "Delivery", "Encoder", "Failure", "Headers", "Message", "ProduceError", "Producer",
           "RegisteredSchema", "Value", "encode_json", "kafka_settings", "registry_settings"]

Value = bytes | str | None
"""A message value: bytes as they are, text as UTF-8, None for a tombstone."""

TIMEOUT = 30.0
"""Seconds a message may take to be acknowledged before it counts as not delivered."""

LINGER_MS = 5
"""Milliseconds the background sender waits to fill a batch (only buffered messages wait)."""

MAX_KEPT_FAILURES = 1000
"""Failures kept for ProduceError.failures; more are counted, not kept (a dead broker fails everything)."""


class ProduceError(KarafkadError):
    """One or more messages were not delivered; `failures` names them (at most MAX_KEPT_FAILURES)."""

    def __init__(self, failures: list[Failure], count: int | None = None, *, reason: str = "") -> None:
        self.failures = failures
        self.count = len(failures) if count is None else count
        shown = "; ".join([reason] * bool(reason) + [str(f) for f in failures[:3]])
        # Without a reason every failure is one of `count`; a reason speaks for the messages not listed.
        unlisted = max(len(failures) - 3, 0) if reason else self.count - len(failures[:3])
        more = f" (and {unlisted} more)" if unlisted > 0 else ""
        what = "a message was" if self.count == 1 else f"{self.count} messages were"
        super().__init__(f"{what} not delivered: {shown}{more}" if self.count else reason)


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored an acknowledged message."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    """Milliseconds since the epoch (the broker's time if the topic uses LogAppendTime)."""


@dataclass(frozen=True)
class Message:
    """One message for `send_all`."""

    topic: str
    value: Value
    key: str | bytes | None = None
    headers: Headers | None = None
    label: Any = None
    """Named in its Failure if it is not delivered."""


@dataclass(frozen=True)
class Failure:
    """A message that was not delivered, and why."""

    topic: str
    key: str | None
    error: str
    label: Any = None
    """Whatever the caller passed as `label` when buffering (the CLI passes the line number)."""

    def __str__(self) -> str:
        label = f" [{self.label}]" if self.label is not None else ""
        key = f" key {self.key!r}" if self.key is not None else ""
        return f"topic {self.topic!r}{key}{label}: {self.error}"


@dataclass
class _Tally:
    """What became of the buffered messages since the last flush (updated by the sender thread)."""

    lock: threading.Condition = field(default_factory=threading.Condition)
    """Notified whenever `pending` drops to 0."""
    pending: int = 0
    failed: int = 0
    failures: list[Failure] = field(default_factory=list)


class Producer:
    """Sends messages to Kafka; thread-safe, one per process is enough.

    The connection is opened by the first message (or `partitions_for`), not
    by the constructor, so a module may create its producer at import time.
    """

    def __init__(self, settings: KafkaSettings | None = None, *, acks: Literal["all", 1, 0] = "all",
                 linger_ms: int = LINGER_MS, compression_type: str | None = None, timeout: float = TIMEOUT,
                 max_request_size: int | None = None, client_factory: Callable[..., ProducerClient] | None = None,
                 schema_registry: RegistrySettings | Mapping[str, Any] | None = None, **kafka: Any) -> None:
        """`settings` (see from_config), or the routes file's `kafka` keys as keyword arguments
        (bootstrap_servers, client_id, security_protocol, sasl_*, ssl_*, request_timeout_ms).
        `schema_registry`: where `encoder()` finds schemas (RegistrySettings, or the keys of a routes file's
        `schema_registry` section: url, username, password, ssl_cafile, ...).

        `client_factory` builds the Kafka client from kafka-python's keyword
        arguments (default: kafka.KafkaProducer; tests pass a fake).
        """
        if settings is not None and kafka:
            raise TypeError(f"give either settings or Kafka keyword arguments, not both ({', '.join(kafka)})")
        self.settings = settings if settings is not None else kafka_settings(**kafka)
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        self.timeout = timeout
        self._options = self._client_options(acks, linger_ms, compression_type, timeout)
        if max_request_size is not None:
            self._options["max_request_size"] = max_request_size
        self._client: ProducerClient | None = None
        self._poisoned = False
        """The client reported a fatal error: the next message gets a new one (see _note_failure)."""
        self._client_factory = client_factory
        self._connect_lock = threading.Lock()
        self._tally = _Tally()
        self._closed = False
        self.schema_registry = (registry_settings(**schema_registry) if isinstance(schema_registry, Mapping)
                                else schema_registry)
        self._schemas: SchemaStore | None = None

    @classmethod
    def from_config(cls, config: str | Path | Config, *, environ: Mapping[str, str] | None = None,
                    **options: Any) -> Producer:
        """A producer for the Kafka cluster of a routes file (its `kafka` section, `${VAR}`s substituted).

        `options` are the other constructor arguments (acks, linger_ms, compression_type, timeout).
        """
        loaded = config if isinstance(config, Config) else load_config(config, environ)
        options.setdefault("schema_registry", loaded.schema_registry)
        return cls(loaded.kafka, **options)

    def _client_options(self, acks: Any, linger_ms: int, compression_type: str | None,
                        timeout: float) -> dict[str, Any]:
        options = self.settings.client_options()
        timeout_ms = int(timeout * 1000)
        # kafka-python insists on delivery_timeout_ms >= linger_ms + request_timeout_ms. A request gets a
        # third of the delivery time: one sent to a leader that stopped answering (a machine gone without
        # closing its connections) is then retried on the partition's new leader before the message
        # counts as not delivered. With the whole delivery time for one request, the message failed
        # instead, and kafka-python's idempotent producer failed the batches in flight with it (a new
        # producer epoch: OutOfOrderSequenceNumberError). Measured with a frozen leader of the dead-letter
        # topic (tests/integration/test_cluster_faults.py): at 10 s the letters waiting for it went to its
        # successor and none failed; at 30 s both consumer threads' letters failed (a timeout, then
        # OutOfOrderSequenceNumberError), their partitions paused, and the letters were sent a second time.
        request_ms = int(options.pop("request_timeout_ms", min(30_000, max(1000, (timeout_ms - linger_ms) // 3))))
        return {
            **options,
            "acks": acks,
            "linger_ms": linger_ms,
            "compression_type": compression_type,
            "request_timeout_ms": request_ms,
            "delivery_timeout_ms": max(timeout_ms, request_ms + linger_ms),
            "max_block_ms": timeout_ms,
            "bootstrap_timeout_ms": timeout_ms,
            # kafka-python backs off up to 30 s between reconnects; after a broker restart that is up to
            # 30 s before a message can go out. 2 s keeps recovery quick without hammering.
            "reconnect_backoff_max_ms": 2000,
        }

    def encoder(self, subject: str, version: int | Literal["latest"] = "latest", *, message: str | None = None,
                register: RegisteredSchema | str | Path | None = None) -> Encoder:
        """An encoder with a Schema Registry subject's schema: `encoder(data) -> bytes`, a record in the Confluent
        wire format to `send` (the data as the routes decode it: docs/schema-registry.md).

        `version`: the subject's latest schema (as it is now) or that version. `register`: a schema to register
        under the subject first (a RegisteredSchema, or a .avsc, .proto or .json file; an identical schema keeps
        its id). `message`: with Protobuf, the message the data is (default: the schema's first). LookupError
        when the subject or version does not exist; ValueError when the schema or message cannot be used;
        karafkad.errors.RegistryUnavailable when the registry cannot be asked.
        """
        if self.schema_registry is None:
            raise ValueError("no schema registry: give Producer(schema_registry=...), or a routes file with a "
                             "schema_registry section")
        if self._schemas is None:
            self._schemas = SchemaStore(RegistryClient(self.schema_registry))
        if isinstance(register, str | Path):
            register = RegisteredSchema.from_file(Path(register))
        return self._schemas.encoder(subject, version, message=message, register=register)

    # --- sending ------------------------------------------------------------

    def send(self, topic: str, value: Value, *, key: str | bytes | None = None, headers: Headers | None = None,
             partition: int | None = None, timestamp_ms: int | None = None) -> Delivery:
        """Send one message and wait for the broker's acknowledgement; ProduceError if it is not delivered."""
        future = self._send(topic, value, key, headers, partition, timestamp_ms)
        try:
            metadata = future.get(timeout=self._options["delivery_timeout_ms"] / 1000 + 5)
        except Exception as exc:  # kafka-python raises its errors and builtins alike: all mean "not delivered"
            self._note_failure()
            raise ProduceError([self._failed(topic, key, exc)]) from exc
        return Delivery(metadata.topic, metadata.partition, metadata.offset, metadata.timestamp)

    def send_json(self, topic: str, data: Any, *, key: str | bytes | None = None, headers: Headers | None = None,
                  partition: int | None = None, timestamp_ms: int | None = None) -> Delivery:
        """`send` with `data` encoded as JSON."""
        return self.send(topic, _json_value(topic, key, data), key=key, headers=headers, partition=partition,
                         timestamp_ms=timestamp_ms)

    def send_all(self, messages: Iterable[Message], timeout: float | None = None) -> list[Delivery]:
        """Send several messages at once and wait for their acknowledgements; ProduceError names those of
        them that were not delivered (after every one of them is settled or `timeout` seconds passed).

        Unlike a flush, the answer is about these messages only: threads sharing one producer (the daemon's
        consumer threads share its dead-letter sender) neither see each other's failures nor miss their own.
        """
        wait = self._options["delivery_timeout_ms"] / 1000 + 5 if timeout is None else timeout
        deadline = time.monotonic() + wait
        batch = list(messages)
        if not batch:
            return []
        try:
            self._connect(batch[0].topic)  # once: a cluster out of reach would otherwise be waited for per message
        except ProduceError as exc:
            error = exc.failures[0].error
            raise ProduceError([Failure(m.topic, key_text(m.key), error, m.label) for m in batch[:MAX_KEPT_FAILURES]],
                               len(batch)) from exc.__cause__
        queued: list[tuple[Message, SendFuture | ProduceError]] = []
        for message in batch:
            try:
                queued.append((message, self._send(message.topic, message.value, message.key, message.headers,
                                                   None, None, message.label)))
            except ProduceError as exc:  # not even queued (too large for the client, no connection)
                queued.append((message, exc))
        deliveries, failures = [], []
        for message, future in queued:
            if isinstance(future, ProduceError):
                failures += future.failures
                continue
            try:
                metadata = future.get(timeout=max(0.0, deadline - time.monotonic()))
            except Exception as exc:  # kafka-python raises its errors and builtins alike: all mean "not delivered"
                self._note_failure()
                failures.append(self._failed(message.topic, message.key, exc, message.label))
                continue
            deliveries.append(Delivery(metadata.topic, metadata.partition, metadata.offset, metadata.timestamp))
        if failures:
            raise ProduceError(failures[:MAX_KEPT_FAILURES], len(failures))
        return deliveries

    def buffer(self, topic: str, value: Value, *, key: str | bytes | None = None, headers: Headers | None = None,
               partition: int | None = None, timestamp_ms: int | None = None, label: Any = None) -> None:
        """Hand one message to the background sender and return; `flush()` reports whether it arrived.

        ProduceError at once when the message cannot even be queued (the cluster
        cannot be reached, the message is larger than the client allows).
        """
        future = self._send(topic, value, key, headers, partition, timestamp_ms, label)
        tally = self._tally
        with tally.lock:
            tally.pending += 1

        def delivered(_metadata: Any) -> None:
            with tally.lock:
                tally.pending -= 1
                if not tally.pending:
                    tally.lock.notify_all()

        def failed(exc: BaseException) -> None:
            self._note_failure()
            with tally.lock:
                tally.pending -= 1
                tally.failed += 1
                if len(tally.failures) < MAX_KEPT_FAILURES:
                    tally.failures.append(self._failed(topic, key, exc, label))
                if not tally.pending:
                    tally.lock.notify_all()

        future.add_callback(delivered)
        future.add_errback(failed)

    def buffer_json(self, topic: str, data: Any, *, key: str | bytes | None = None, headers: Headers | None = None,
                    partition: int | None = None, timestamp_ms: int | None = None, label: Any = None) -> None:
        """`buffer` with `data` encoded as JSON."""
        self.buffer(topic, _json_value(topic, key, data), key=key, headers=headers, partition=partition,
                    timestamp_ms=timestamp_ms, label=label)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every buffered message is acknowledged or failed; ProduceError names the failed ones.

        The failures are reported once: a later flush reports only newer ones.
        """
        wait = self._options["delivery_timeout_ms"] / 1000 + 5 if timeout is None else timeout
        deadline = time.monotonic() + wait
        if self._client is not None:
            with contextlib.suppress(Exception):  # the wait below is the one that counts (see there)
                self._client.flush(timeout=wait)
        # Every buffered message is counted until its own future settles, so
        # waiting for the count is exact. kafka-python's flush alone is not: it
        # gives up with "Future not done" when a batch it waits for is split
        # after a MESSAGE_TOO_LARGE answer, though the split halves are retried.
        tally = self._tally
        with tally.lock:
            settled = tally.lock.wait_for(lambda: tally.pending == 0, max(0.0, deadline - time.monotonic()))
        if not settled:
            failures, count, waiting = self._take_failures()
            raise ProduceError(failures, count + waiting,
                               reason=f"{waiting} still unacknowledged after {wait:g} s")
        failures, count, _ = self._take_failures()
        if count:
            raise ProduceError(failures, count)

    def _take_failures(self) -> tuple[list[Failure], int, int]:
        """The failures kept since the last flush, how many there were, and how many messages are pending."""
        tally = self._tally
        with tally.lock:
            failures, count, pending = tally.failures, tally.failed, tally.pending
            tally.failures, tally.failed = [], 0
        return failures, count, pending

    def partitions_for(self, topic: str) -> frozenset[int]:
        """Connect now and return the topic's partitions; ProduceError if the cluster or topic is not there."""
        try:
            client = self._connect(topic)
        except ProduceError as exc:  # no message was involved: say only why
            raise ProduceError([], 0, reason=exc.failures[0].error) from exc.__cause__
        try:
            return frozenset(client.partitions_for(topic))
        except Exception as exc:  # kafka-python: KafkaTimeoutError when the topic does not exist
            raise ProduceError([], 0, reason=f"topic {topic!r} does not exist, or the cluster did not answer "
                                             f"within {self.timeout:g} s ({explain(exc, self.settings)})") from exc

    def close(self) -> None:
        """Flush, then disconnect; ProduceError (after disconnecting) if a buffered message was not delivered."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
        finally:
            if self._client is not None:
                client, self._client = self._client, None
                # Every message was accounted for by flush() above; an error here is
                # kafka-python's own flush racing a split batch (see flush).
                with contextlib.suppress(Exception):
                    client.close(timeout=5)

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except ProduceError as undelivered:
            # The block's own exception stays the one raised; the undelivered
            # messages are not swallowed but printed with its traceback.
            exc.add_note(f"karafkad.producer: {undelivered}")

    # --- internals ----------------------------------------------------------

    def _note_failure(self) -> None:
        """After a failed message: is the client still usable?

        kafka-python 3.0 turns an idempotent producer fatal after any
        non-retriable error, even one about a single message (see
        workarounds/producer_state). As Kafka's own clients advise for fatal
        errors, such a client is replaced, here by the next message (not in
        this callback, which runs in its I/O thread).
        """
        if producer_state.is_fatal(self._client):
            self._poisoned = True

    def _failed(self, topic: str, key: str | bytes | None, exc: BaseException, label: Any = None) -> Failure:
        """The Failure of a message that `exc` kept from being delivered."""
        return Failure(topic, key_text(key), explain(exc, self.settings), label)

    def _connect(self, topic: str, label: Any = None) -> ProducerClient:
        if self._closed:
            raise ProduceError([Failure(topic, None, "the producer is closed", label)])
        with self._connect_lock:
            if self._poisoned and self._client is not None:
                # Its batches were all failed (and counted) when it turned fatal.
                old, self._client, self._poisoned = self._client, None, False
                with contextlib.suppress(Exception):
                    old.close(timeout=0)
            if self._client is None:
                factory = self._client_factory or kafka_producer
                try:
                    self._client = factory(**self._options)
                except Exception as exc:  # a bootstrap timeout (its cause: TLS, SASL), bad settings
                    raise ProduceError([self._failed(topic, None, exc, label)]) from exc
            return self._client

    def _send(self, topic: str, value: Value, key: str | bytes | None, headers: Headers | None,
              partition: int | None, timestamp_ms: int | None, label: Any = None) -> SendFuture:
        # Wrong types are the caller's bug: TypeError, before anything connects.
        value_bytes, key_bytes, header_list = as_bytes(value), as_bytes(key), header_pairs(headers)
        header_list = with_current_context(header_list)
        client = self._connect(topic, label)
        try:
            return client.send(topic, value=value_bytes, key=key_bytes, headers=header_list, partition=partition,
                               timestamp_ms=timestamp_ms)
        except Exception as exc:  # the topic name, the size limit, metadata timeouts: this message is not sent
            raise ProduceError([self._failed(topic, key, exc, label)]) from exc


def _json_value(topic: str, key: str | bytes | None, data: Any) -> bytes:
    try:
        return encode_json(data)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ProduceError([Failure(topic, key_text(key), f"not JSON: {exc}")]) from exc
