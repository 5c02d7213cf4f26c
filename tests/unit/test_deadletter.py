"""deadletter.py: the headers a dead letter carries, and a sender that recovers from a broken client."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from tables import FakeRecord, make_table

from karafkad.deadletter import DeadLetterSender, dead_letter_headers
from karafkad.errors import DeadLetterError
from karafkad.pipeline import Pipeline


def _letters(tmp_path: Path, record: FakeRecord) -> list[Any]:
    table = make_table(tmp_path, {"g": {"routes": [
        {"name": "a", "topic": "t", "handler": "h.handle", "dead_letter": "d"},
        {"name": "b", "topic": "t", "handler": "h.handle", "dead_letter": "d"}]}})
    return Pipeline(table.groups["g"], 1000).process("t", 0, [record]).dead_letters


class TestHeaders:
    def test_original_headers_then_reason_and_origin(self, tmp_path: Path) -> None:
        """The original headers come first, then karafkad.* with the error, every route and the origin."""
        record = FakeRecord(42, b"junk", partition=3, headers=[("trace", b"abc"), ("empty", None)])
        (letter,) = _letters(tmp_path, record)
        headers = dead_letter_headers(letter)
        assert headers[:2] == [("trace", b"abc"), ("empty", b"")]
        added = {k: v.decode() for k, v in headers[2:]}
        assert added["karafkad.error_kind"] == "decode"
        assert added["karafkad.error"].startswith("invalid JSON")
        assert added["karafkad.route"] == "a,b"
        assert (added["karafkad.original_topic"], added["karafkad.original_partition"],
                added["karafkad.original_offset"]) == ("t", "3", "42")

    def test_a_header_key_that_is_not_utf8_goes_out_escaped(self, tmp_path: Path) -> None:
        """kafka-python can only send UTF-8 keys: a junk key is kept as \\\\xNN text."""
        record = FakeRecord(0, b"{}", headers=[(b"\xffk".decode("utf-8", "surrogateescape"), b"v")])
        (letter,) = _letters(tmp_path, record)
        assert letter.kind == "headers"
        assert dead_letter_headers(letter)[0] == ("\\xffk", b"v")


class FakeFuture:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def get(self, timeout: float) -> None:
        if self.error:
            raise self.error


class FakeProducer:
    """Fails every send once `broken` (as kafka-python 3.0 does after one refused message)."""

    made: ClassVar[list[FakeProducer]] = []

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.sent: list[tuple[str, bytes | None]] = []
        self.broken = len(FakeProducer.made) == 0
        self.closed = False
        FakeProducer.made.append(self)

    def send(self, topic: str, value: bytes | None, key: bytes | None, headers: Any) -> FakeFuture:
        self.sent.append((topic, value))
        return FakeFuture(MessageSizeTooLargeError("too large") if self.broken else None)

    def flush(self, timeout: float) -> None:
        pass

    def close(self, timeout: float) -> None:
        self.closed = True


class TestSender:
    def test_a_refused_dead_letter_gets_a_fresh_producer_next_time(self, tmp_path: Path) -> None:
        """After a failure the broken client is dropped; the retry uses a new one and succeeds."""
        FakeProducer.made = []
        sender = DeadLetterSender({"bootstrap_servers": ["x"]}, producer_factory=FakeProducer)
        letters = _letters(tmp_path, FakeRecord(0, b"junk"))
        with pytest.raises(DeadLetterError, match="too large"):
            sender.send(letters)
        sender.send(letters)
        assert len(FakeProducer.made) == 2
        assert FakeProducer.made[0].closed
        assert FakeProducer.made[1].sent == [("d", b"junk")]
        assert FakeProducer.made[1].options["acks"] == "all"

    def test_nothing_to_send_opens_no_producer(self) -> None:
        """An empty batch of dead letters never connects."""
        FakeProducer.made = []
        DeadLetterSender({}, producer_factory=FakeProducer).send([])
        assert FakeProducer.made == []

    def test_a_producer_that_cannot_be_created_is_a_dead_letter_error(self) -> None:
        """Failing to connect is reported the same way (the consumer pauses and retries)."""
        def refuse(**_: Any) -> Any:
            raise KafkaTimeoutError("no brokers")

        with pytest.raises(DeadLetterError, match="cannot connect"):
            DeadLetterSender({}, producer_factory=refuse).send([object()])  # type: ignore[list-item]
