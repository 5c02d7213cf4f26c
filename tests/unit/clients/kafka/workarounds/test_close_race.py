"""clients/kafka/workarounds/close_race.py: the traceback kafka-python logs when close() shuts a socket under a
read is dropped."""

from __future__ import annotations

import io
import logging
import selectors
import socket
from collections.abc import Iterator

import pytest
import structlog
from kafka.net.selector import NetworkSelector
from kafka.net.transport import KafkaTCPTransport

from karafkad.clients.kafka.workarounds import close_race as close_race_module
from karafkad.observability import configure_logging


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def selector_log() -> Iterator[Lines]:
    """kafka-python's selector and transport loggers with the filter on and a handler that keeps what gets
    through."""
    loggers = [logging.getLogger(close_race_module.SELECTOR_LOGGER),
               logging.getLogger(close_race_module.TRANSPORT_LOGGER)]
    root = logging.getLogger()
    touched = [root, logging.getLogger("kafka"), logging.getLogger("kafka.net.sasl")]  # configure_logging's
    lines, levels, handlers = Lines(), [t.level for t in touched], list(root.handlers)
    close_race_module.ignore()
    close_race_module.ignore()  # idempotent
    for logger in loggers:
        assert logger.filters.count(close_race_module.close_race) == 1
        logger.addHandler(lines)
    root.setLevel(logging.WARNING)  # as observability.configure_logging sets it without debug logging
    yield lines
    for logger in loggers:
        logger.removeHandler(lines)
    structlog.reset_defaults()
    root.handlers[:] = handlers
    for touched_logger, level in zip(touched, levels, strict=True):
        touched_logger.setLevel(level)


def log_task_failure(error: Exception) -> None:
    """What kafka-python's selector does when a task raises (kafka/net/selector.py, _poll_once)."""
    try:
        raise error
    except Exception:
        logging.getLogger(close_race_module.SELECTOR_LOGGER).exception("Unhandled exception in task %s:", "<Task>")


def closed_socket_registered() -> ValueError:
    """The real error: kafka-python's own selector asked to wait on a socket another thread closed."""
    sock = socket.socket()
    sock.close()
    net = NetworkSelector()
    try:
        net.register_event(sock, selectors.EVENT_READ, lambda: None)
    except ValueError as error:
        return error
    finally:
        net.close()
    raise AssertionError("registering a closed socket did not fail")


class TestTaskFailures:
    """The selector's line for a task that raised: dropped for the close race only."""

    def test_a_wait_on_a_socket_closed_under_it_is_not_logged(self, selector_log: Lines) -> None:
        """The harmless race: a task registering a socket another thread closed prints nothing."""
        log_task_failure(closed_socket_registered())
        assert selector_log.messages == []

    def test_any_other_task_failure_is_still_logged(self, selector_log: Lines) -> None:
        """Another ValueError, or the same words raised elsewhere than registering a socket, still print."""
        log_task_failure(ValueError("Invalid file descriptor: 7"))
        log_task_failure(ValueError("Invalid file descriptor: -1"))  # not from register_event
        logging.getLogger(close_race_module.SELECTOR_LOGGER).error("IO loop crashed")
        assert len(selector_log.messages) == 3

    def test_debug_logging_lets_the_race_through(self, selector_log: Lines) -> None:
        """With --log-level debug (configure_logging puts the root logger at DEBUG, kafka's at INFO)."""
        configure_logging("json", "debug", io.StringIO())
        log_task_failure(closed_socket_registered())
        assert selector_log.messages == ["Unhandled exception in task <Task>:"]


class _Refusing:
    """A socket whose read fails for another reason (kafka-python names its peer in the line)."""

    def recv(self, size: int) -> bytes:
        raise OSError("connection reset")

    def getpeername(self) -> tuple[str, int]:
        return ("127.0.0.1", 9092)

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", 50000)


class TestReceiveFailures:
    """The transport's line for a failed read: dropped for a socket close() took away only."""

    def test_a_read_of_a_socket_taken_away_under_it_is_not_logged(self, selector_log: Lines) -> None:
        """The second place: kafka-python's own transport reading after close() set its socket to None."""
        transport = KafkaTCPTransport(None, None)
        _, error = transport._sock_recv()  # logs "...: Error receiving network data closing socket" with the traceback
        assert error is not None  # kafka-python still ends the read
        assert selector_log.messages == []

    def test_any_other_receive_failure_is_still_logged(self, selector_log: Lines) -> None:
        """A read that fails for another reason (a reset connection) still prints its line."""
        KafkaTCPTransport(None, _Refusing())._sock_recv()
        [line] = selector_log.messages
        assert line.endswith("Error receiving network data closing socket")


