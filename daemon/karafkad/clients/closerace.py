"""Silencing one harmless race in kafka-python 3.0.12: a read waited on a socket that close() just shut.

kafka-python 3.0 runs each client's network tasks on its own IO thread, but
`KafkaConsumer.close()` (and the producer's) closes the connections from the
calling thread. If a connection's read task is between two reads at that
moment, it asks the IO thread to wait on the socket already closed (fd -1);
the selector raises "ValueError: Invalid file descriptor: -1" inside the task
and kafka-python logs it at ERROR with a traceback ("Unhandled exception in
task"). The task ends, the connection was closing anyway, nothing is lost:
but a traceback in the log of a clean shutdown reads as a crash (seen once
in about a thousand stops, at the end of a TLS test in CI).

The filter drops exactly that record: from kafka-python's selector, about a
task, its exception a ValueError for fd -1 raised while registering the
socket. Any other task failure is still logged. With debug logging it lets
the record through, for whoever is looking at kafka-python itself.
"""

from __future__ import annotations

import logging
import traceback

SELECTOR_LOGGER = "kafka.net.selector"


def is_close_race(record: logging.LogRecord) -> bool:
    """True if `record` is kafka-python's report of a read task waiting on a socket already closed."""
    if record.name != SELECTOR_LOGGER or not str(record.msg).startswith("Unhandled exception in task"):
        return False
    error = record.exc_info[1] if record.exc_info else None
    if not isinstance(error, ValueError) or str(error) != "Invalid file descriptor: -1":
        return False
    return any(frame.name == "register_event" for frame in traceback.extract_tb(error.__traceback__))


class CloseRace(logging.Filter):
    """A filter for kafka-python's selector logger: drops the close race (see the module)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # karafkad's debug logging puts the root logger at DEBUG (the kafka logger stays at INFO: its debug
        # lines are per request).
        return not is_close_race(record) or logging.getLogger().isEnabledFor(logging.DEBUG)


close_race = CloseRace()


def ignore() -> None:
    """Put the filter on kafka-python's selector logger (call before making a client; idempotent)."""
    logger = logging.getLogger(SELECTOR_LOGGER)
    if close_race not in logger.filters:
        logger.addFilter(close_race)
