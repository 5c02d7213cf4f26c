"""Silencing one harmless race in kafka-python 3.0.12: a read on a socket that close() just shut.

kafka-python 3.0 runs each client's network tasks on its own IO thread, but
`KafkaConsumer.close()` (and the producer's) closes the connections from the
calling thread. A connection's read task caught at that moment fails in one
of two places, and kafka-python logs it at ERROR with a traceback:
- between two reads, it asks the IO thread to wait on the socket already
  closed (fd -1): "Unhandled exception in task", a ValueError "Invalid file
  descriptor: -1" raised in `register_event` (kafka/net/selector.py);
- woken to read, it finds the socket already taken away: "Error receiving
  network data closing socket", an AttributeError "'NoneType' object has no
  attribute 'recv'" raised in `_sock_recv` (kafka/net/transport.py).
The task ends, the connection was closing anyway, nothing is lost: but a
traceback in the log of a clean shutdown reads as a crash (CI saw the first
at the end of a TLS test; the second showed in 2 of 6 quick stops here).

The filter drops exactly those records, each told by its logger, its words,
its exception and the function that raised it. Any other failure is still
logged. With debug logging it lets them through, for whoever is looking at
kafka-python itself.
"""

from __future__ import annotations

import logging
import traceback

SELECTOR_LOGGER = "kafka.net.selector"
TRANSPORT_LOGGER = "kafka.net.transport"

_RACES = (
    (SELECTOR_LOGGER, "Unhandled exception in task", ValueError, "Invalid file descriptor: -1", "register_event"),
    (TRANSPORT_LOGGER, "Error receiving network data closing socket", AttributeError,
     "'NoneType' object has no attribute 'recv'", "_sock_recv"),
)
"""(logger, words of the message, exception type, its text, the function that raised it), one per place."""


def is_close_race(record: logging.LogRecord) -> bool:
    """True if `record` is kafka-python's report of a read task caught by close() on another thread."""
    error = record.exc_info[1] if record.exc_info else None
    for logger, words, kind, text, raiser in _RACES:
        if (record.name == logger and words in str(record.msg) and isinstance(error, kind) and str(error) == text
                and any(frame.name == raiser for frame in traceback.extract_tb(error.__traceback__))):
            return True
    return False


class CloseRace(logging.Filter):
    """A filter for kafka-python's selector and transport loggers: drops the close race (see the module)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # karafkad's debug logging puts the root logger at DEBUG (the kafka logger stays at INFO: its debug
        # lines are per request).
        return not is_close_race(record) or logging.getLogger().isEnabledFor(logging.DEBUG)


close_race = CloseRace()


def ignore() -> None:
    """Put the filter on kafka-python's selector and transport loggers (failures.watch does, before every
    client is made; idempotent)."""
    for name in (SELECTOR_LOGGER, TRANSPORT_LOGGER):
        logger = logging.getLogger(name)
        if close_race not in logger.filters:
            logger.addFilter(close_race)
