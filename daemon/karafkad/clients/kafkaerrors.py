"""Say what a Kafka client failure means, in words an operator can act on: a refused login above all.

With a wrong SASL password, kafka-python 3.0 logs two or three ERROR lines per
connection attempt (the broker's "Authentication failed ... invalid
credentials") and then raises only `KafkaTimeoutError: Unable to bootstrap`
from the KafkaConsumer or KafkaProducer constructor, which does not say why.
Here those lines are replaced by one line of karafkad's own, at most once per
`REPORT_INTERVAL` while the failure lasts, and `describe()` turns the timeout
back into "authentication failed: ...". Nothing here ever sees the password:
the broker's message names the mechanism, not the credentials.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kafka import errors as kafka_errors

from karafkad.config.secrets import redact
from karafkad.config.settings import KafkaSettings
from karafkad.observability import get_logger

AUTHENTICATION_ERRORS: tuple[type[BaseException], ...] = (
    kafka_errors.SaslAuthenticationFailedError,
    kafka_errors.UnsupportedSaslMechanismError,
    kafka_errors.IllegalSaslStateError,
)
"""kafka-python's errors for a login the broker refused."""

_NAMES = tuple(cls.__name__ for cls in AUTHENTICATION_ERRORS)

REPORT_INTERVAL = 60.0
"""Seconds between two reports of the same continuing authentication failure."""

RECENT = 120.0
"""A bootstrap timeout this many seconds after a refused login is taken to be caused by it."""

log = get_logger("karafkad.kafka")


def authentication_error(exc: BaseException | None) -> BaseException | None:
    """The authentication error in `exc` or its causes, or None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, AUTHENTICATION_ERRORS):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _broker_says(error: BaseException | str) -> str:
    """The broker's own words: "Authentication failed ... with SASL mechanism SCRAM-SHA-256"."""
    text = str(error)
    for name in _NAMES:  # kafka-python writes "[Error 58] SaslAuthenticationFailedError: Name: text"
        text = text.rsplit(f"{name}: ", 1)[-1]
    return text.strip() or type(error).__name__


LOGIN_WINDOW = 5.0
"""A connection the broker closes this soon after a SASL login began was refused (see AuthFailures)."""

CLOSED_DURING_LOGIN = "the broker closed the connection during the SASL login (wrong user name or password?)"


class AuthFailures(logging.Filter):
    """Put on the log handler: swallows kafka-python's refused-login lines, logs one clear line instead.

    kafka-python 3.0.12 does not always see the broker's refusal: when the
    error response and the close arrive in one read, it drops the response
    and reports only "socket disconnected". So a disconnect within
    LOGIN_WINDOW of a SASL login beginning (kafka-python's SASL modules warn
    at each login over SASL_PLAINTEXT) counts as a refused login too.
    Also remembers the last refusal, so `describe()` can explain the bootstrap
    timeout that follows it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.last: tuple[float, str] | None = None
        """(monotonic time, what the broker said) of the last refused login."""
        self._reported_at = -float("inf")
        self._since_report = 0
        self._login_at = -float("inf")
        self.verbose = False
        """Let kafka-python's own SASL lines through as well (debug logging)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("kafka"):
            return True
        now = time.monotonic()
        if record.name.startswith("kafka.net.sasl") and record.levelno < logging.ERROR:
            with self._lock:
                self._login_at = now  # "Exchanging credentials in the clear during Sasl Authentication"
            return self.verbose
        text = _text(record)
        reason = self._reason(record, text)
        if reason is None and now - self._login_at <= LOGIN_WINDOW and "socket disconnected" in text:
            reason = CLOSED_DURING_LOGIN
        if reason is None:
            return True
        with self._lock:
            self.last = (now, reason)
            # kafka-python writes two or three lines per refused connection, one of them "Connection lost".
            self._since_report += "Connection lost" in text
            due = now - self._reported_at >= REPORT_INTERVAL
            if due:
                attempts, self._since_report, self._reported_at = max(self._since_report, 1), 0, now
        if due:
            log.error("Kafka authentication failed: the broker refused karafkad's SASL login; the client keeps "
                      "retrying with backoff (check kafka.sasl_mechanism, sasl_plain_username and "
                      "sasl_plain_password)", error=redact(reason), refused_logins=attempts,
                      next_report_in=REPORT_INTERVAL)
        return self.verbose

    @staticmethod
    def _reason(record: logging.LogRecord, text: str) -> str | None:
        args = record.args if isinstance(record.args, tuple) else ()
        for arg in args:
            if isinstance(arg, BaseException):
                found = authentication_error(arg)
                if found is not None:
                    return _broker_says(found)
        if any(name in text for name in _NAMES):
            return _broker_says(text)
        return None

    def recent(self, within: float = RECENT) -> str | None:
        """The broker's message of a login refused within the last `within` seconds, or None."""
        with self._lock:
            last = self.last
        if last is None or time.monotonic() - last[0] > within:
            return None
        return last[1]


def _text(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a malformed record of kafka-python's: nothing to learn from it
        return ""


auth_failures = AuthFailures()
"""The one filter of the process (it remembers the last refused login for `describe`)."""


def login_filter(verbose: bool) -> AuthFailures:
    """The filter to put on the stdlib log handler (observability.configure_logging's `log_filters`).

    `verbose` (debug logging) lets kafka-python's own SASL lines through as well.
    """
    auth_failures.verbose = verbose
    return auth_failures


def describe(exc: BaseException, kafka: KafkaSettings | None = None) -> str:
    """One line saying what went wrong with a Kafka client, secrets masked.

    An authentication failure says so, with the mechanism and user name it
    was tried with; anything else is `ExceptionName: message`.
    """
    found = authentication_error(exc)
    reason = _broker_says(found) if found is not None else None
    if reason is None and isinstance(exc, kafka_errors.KafkaTimeoutError) and "bootstrap" in str(exc):
        reason = auth_failures.recent()
    if reason is None:
        text = str(exc)  # kafka-python's errors already start with their name
        return redact(text if text.startswith(type(exc).__name__) else f"{type(exc).__name__}: {text}")
    return redact(f"authentication failed{_who(kafka)}: {reason}")


def _who(kafka: KafkaSettings | None) -> str:
    if kafka is None:
        return ""
    security: dict[str, Any] = dict(kafka.security)
    mechanism = security.get("sasl_mechanism")
    user = security.get("sasl_plain_username")
    if not mechanism:
        return ""
    return f" (SASL {mechanism}" + (f" as user {user!r}" if user else "") + ")"
