"""Logging: one stream, JSON or console, and no secret in any line (the masking processor is a safety net)."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from clocks import Clock

from karafkad.config.secrets import MASK, Secret
from karafkad.observability import RecentErrors, SecretMasker, SkipLog, configure_logging, get_logger


def secret() -> str:
    value = f"pw-{uuid.uuid4().hex[:12]}"
    Secret(value)  # what loading a routes file does with every password
    return value


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """configure_logging into a buffer (JSON), restored to structlog's defaults afterwards."""
    buffer = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("json", "info", buffer)
    yield buffer
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


class TestSecretMasker:
    def test_masks_known_secrets_in_every_field(self) -> None:
        """A remembered secret is masked wherever it appears in a string field, including inside other text."""
        value = secret()
        masked = SecretMasker()(None, "info", {"event": f"login {value} refused", "error": value, "n": 3})
        assert masked == {"event": f"login {MASK} refused", "error": MASK, "n": 3}

    def test_masks_url_passwords_even_when_not_remembered(self) -> None:
        """A URL with credentials is masked even if its password was never a Secret."""
        masked = SecretMasker()(None, "info", {"event": "connect", "url": "redis://u:unseen-pw@h:6379/0"})
        assert masked["url"] == "redis://u:***@h:6379/0"

    def test_masks_inside_lists_dicts_and_exceptions(self) -> None:
        """Nested values (a list of problems, a mapping, an exception object) are masked too."""
        value = secret()
        masked = SecretMasker()(None, "error", {"event": "x", "problems": [f"a {value}", ("b", value)],
                                                "settings": {"pw": value}, "exc": ValueError(f"bad {value}")})
        assert masked["problems"] == [f"a {MASK}", ("b", MASK)]
        assert masked["settings"] == {"pw": MASK}
        assert masked["exc"] == f"ValueError: bad {MASK}"

    def test_a_secret_remembered_later_is_masked_from_then_on(self) -> None:
        """The processor notices new secrets (a reload) without being rebuilt."""
        masker = SecretMasker()
        late = f"late-{uuid.uuid4().hex[:8]}"
        assert masker(None, "info", {"event": late})["event"] == late
        Secret(late)
        assert masker(None, "info", {"event": late})["event"] == MASK

    def test_leaves_structlog_bookkeeping_alone(self) -> None:
        """Keys starting with _ (the stdlib record) are not touched."""
        record = object()
        assert SecretMasker()(None, "info", {"event": "x", "_record": record})["_record"] is record


class TestConfiguredLogging:
    def test_structlog_events_are_masked(self, stream: io.StringIO) -> None:
        """An event of karafkad's own with a password in a field comes out masked."""
        value = secret()
        get_logger("karafkad.test").error("cannot connect", error=f"AUTH {value} failed",
                                          redis=f"redis://u:{value}@h/0")
        [line] = lines(stream)
        assert value not in stream.getvalue()
        assert line["error"] == f"AUTH {MASK} failed" and line["redis"] == "redis://u:***@h/0"

    def test_tracebacks_are_masked(self, stream: io.StringIO) -> None:
        """log.exception's formatted traceback is masked (the processor runs after format_exc_info)."""
        value = secret()
        try:
            raise RuntimeError(f"password was {value}")
        except RuntimeError:
            get_logger("karafkad.test").exception("crashed")
        assert value not in stream.getvalue()
        assert f"password was {MASK}" in lines(stream)[0]["exception"]

    def test_stdlib_loggers_are_masked(self, stream: io.StringIO) -> None:
        """kafka-python's and RQ's stdlib log lines go through the same masking."""
        value = secret()
        logging.getLogger("kafka.test").error("connecting with %s to redis://x:%s@h", value, value)
        assert value not in stream.getvalue()
        [line] = lines(stream)
        assert line["logger"] == "kafka.test" and MASK in line["event"]


class YieldingStream(io.StringIO):
    """A stream whose every write lets another thread run (a pipe or a busy journal does, at times)."""

    def write(self, text: str) -> int:
        written = super().write(text)
        time.sleep(0)
        return written


class TestLinesStayWhole:
    def test_karafkad_and_kafka_python_lines_from_many_threads_never_share_a_line(self) -> None:
        """structlog's lines and the stdlib's (kafka-python's) from eight threads at once: every line of the
        stream is one whole JSON object (the two once shared a line, with two locks and a newline written
        apart)."""
        stream = YieldingStream()
        configure_logging("json", "info", stream)

        def log_both(n: int) -> None:
            for i in range(150):
                get_logger("karafkad.test").info("ours", thread=n, i=i)
                logging.getLogger("kafka.test").error("theirs %d %d", n, i)

        threads = [threading.Thread(target=log_both, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
        assert len(events) == 8 * 150 * 2
        assert events.count("ours") == 8 * 150


class TestRecentErrors:
    def test_a_batch_of_problems_is_added_in_order_and_only_the_last_are_kept(self) -> None:
        """extend() adds (kind, message, fields) items as add() would one by one: newest first, at most the
        list's capacity."""
        recent = RecentErrors(size=3)
        recent.add("redis", "down")
        recent.extend([("skipped", f"note {n}", {"offset": n}) for n in range(5)])
        assert [(item["message"], item.get("offset")) for item in recent.snapshot()] == [
            ("note 4", 4), ("note 3", 3), ("note 2", 2)]
        assert recent.capacity == 3

    def test_messages_for_the_status_page_are_masked(self) -> None:
        """The recent-problems list (shown on the status page) never holds a secret."""
        value = secret()
        recent = RecentErrors()
        recent.add("redis", f"AuthenticationError for redis://u:{value}@h/0")
        assert value not in json.dumps(recent.snapshot())


class TestSkipLog:
    def test_a_burst_then_silence_then_a_summary(self) -> None:
        """Up to `burst` lines per route per window; the rest are counted and summarised when the window ends."""
        clock = Clock(0.0)
        log = SkipLog(burst=2, window=10, clock=clock)
        assert [log.allow("r") for _ in range(5)] == [True, True, False, False, False]
        assert log.allow("other")
        assert log.summaries() == []
        clock.now = 10.0
        assert log.summaries() == [("r", 3)]
        assert log.allow("r")
