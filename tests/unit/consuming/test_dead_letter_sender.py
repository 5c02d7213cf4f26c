"""consuming/dead_letter_sender.py: a sender that recovers from a broken client (the headers it writes are
tests/unit/store/test_dead_letter_headers.py's)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError
from kafka_fakes import FakeClient
from tables import make_record, make_table
from waiting import wait_for

from karafkad.config.settings import KafkaSettings
from karafkad.consuming.dead_letter_sender import DeadLetterSender
from karafkad.errors import DeadLetterError
from karafkad.pipeline.records import PlainRecord
from karafkad.pipeline.steps import Pipeline


def _letters(tmp_path: Path, record: PlainRecord) -> list[Any]:
    table = make_table(tmp_path, {"g": {"routes": [
        {"name": "a", "topic": "t", "handler": "h.handle", "dead_letter": "d"},
        {"name": "b", "topic": "t", "handler": "h.handle", "dead_letter": "d"}]}})
    return Pipeline(table.groups["g"], 1000).process("t", 0, [record]).dead_letters


class TestSender:
    def test_a_refused_dead_letter_gets_a_fresh_producer_next_time(self, tmp_path: Path) -> None:
        """kafka-python's producer turns fatal after a refused message; the retry uses a new one and succeeds."""
        made: list[FakeClient] = []

        def factory(**options: Any) -> FakeClient:
            client = FakeClient(**options)
            client.instant = True
            client.fatal_after_refusal = True
            client.refuse = {b"junk"} if not made else set()
            made.append(client)
            return client

        sender = DeadLetterSender(KafkaSettings(), client_factory=factory)
        letters = _letters(tmp_path, make_record(0, b"junk"))
        with pytest.raises(DeadLetterError, match="MessageSizeTooLargeError"):
            sender.send(letters)
        sender.send(letters)
        assert len(made) == 2
        assert made[0].closed
        assert [(r["topic"], r["value"]) for r in made[1].sent] == [("d", b"junk")]
        assert made[1].options["acks"] == "all"

    def test_each_of_two_threads_sharing_the_sender_learns_the_fate_of_its_own_letters(self, tmp_path: Path) -> None:
        """The consumer threads share the daemon's sender. Thread a's letter is refused while a is still
        waiting, and thread b sends one meanwhile: a gets the DeadLetterError (and retries), b does not. (With
        a producer-wide flush b took a's failure and a returned as if its letter were stored: a integration
        run with a frozen leader lost 25 dead letters that way, committed past.)"""
        client = _SlowBroker()
        sender = DeadLetterSender(KafkaSettings(), client_factory=lambda **_: client)
        outcomes: dict[str, str] = {}

        def send(letters: list[Any]) -> None:
            try:
                sender.send(letters)
                outcomes[threading.current_thread().name] = "stored"
            except DeadLetterError as exc:
                outcomes[threading.current_thread().name] = str(exc)

        client.refuse = {b"refused"}
        a = threading.Thread(target=send, args=(_letters(tmp_path, make_record(0, b"refused")),), name="a")
        a.start()
        wait_for(lambda: len(client.pending) == 1, 5, "one letter is in flight", interval=0.01)
        client.answer()  # the broker refuses a's letter
        b = threading.Thread(target=send, args=(_letters(tmp_path, make_record(1, b"fine")),), name="b")
        b.start()
        wait_for(lambda: len(client.pending) == 1, 5, "one letter is in flight", interval=0.01)
        client.answer()  # and stores b's
        b.join(5)
        client.release.set()
        a.join(5)
        assert outcomes["b"] == "stored"
        assert "MessageSizeTooLargeError" in outcomes["a"]
        assert [r["value"] for r in client.sent] == [b"fine"]

    def test_nothing_to_send_opens_no_producer(self) -> None:
        """An empty batch of dead letters never connects."""
        made: list[FakeClient] = []
        DeadLetterSender(KafkaSettings(), client_factory=lambda **o: made.append(FakeClient(**o)) or made[-1]).send([])
        assert made == []

    def test_a_producer_that_cannot_be_created_is_a_dead_letter_error(self, tmp_path: Path) -> None:
        """Failing to connect is reported the same way (the consumer pauses and retries)."""
        def refuse(**_: Any) -> Any:
            raise KafkaTimeoutError("Unable to bootstrap from ['localhost:9092']")  # kafka-python's words

        with pytest.raises(DeadLetterError, match="cannot connect"):
            DeadLetterSender(KafkaSettings(), client_factory=refuse).send(_letters(tmp_path, make_record(0, b"x")))


class _SlowBroker(FakeClient):
    """A client whose broker answers only when the test says so; kafka-python's flush, called from thread "a",
    waits until `release` (thread a is slow to look at its answer)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.release = threading.Event()

    def flush(self, timeout: float | None = None) -> None:
        if threading.current_thread().name == "a":
            self.release.wait(5)

    def answer(self) -> None:
        FakeClient.flush(self)
