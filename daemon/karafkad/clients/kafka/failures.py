"""Say what a Kafka client failure means, in words an operator can act on: a refused login, a failed TLS
handshake, a broker that cannot be reached.

When a connection fails (a wrong port, a wrong SASL password, a broker
certificate from another CA, a client certificate the broker refuses),
kafka-python 3.0 logs two to four ERROR lines per attempt, several attempts
a second, some with a traceback and none with the address, and then raises
only `KafkaTimeoutError: Unable to bootstrap` from the client's
constructor, which does not say why. So:

- `watch()` puts a recorder on kafka-python's loggers: each line about a
  failed connection is classified once (`Failures.note`) and the last
  failure remembered, in any process (`karafkad produce` too);
- `explain()` turns the timeout back into its cause ("cannot connect to
  Kafka at HOST:PORT (SSL): the broker's certificate is not signed by the CA
  in ssl_cafile ...", "... authentication failed ..."), and words every
  other Kafka error karafkad shows, secrets masked;
- `log_filter()`, on the daemon's log handler, swallows kafka-python's lines
  about such failures and logs one line of karafkad's own instead, at most
  once per `REPORT_INTERVAL` while the failure lasts.

Nothing here ever sees a password: the broker's message names the
mechanism, OpenSSL's the certificate; the files are named by their paths.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from kafka import errors as kafka_errors

from karafkad.clients.kafka.reachability import unreachable_cause
from karafkad.clients.kafka.workarounds import close_race
from karafkad.clients.tls import causes as tls_causes
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
"""Seconds between two reports of the same continuing failure: a tail of the log still shows that it lasts,
and an outage of hours costs a line a minute instead of kafka-python's several a second (a wrong port, three
consumer threads: 165 of its lines in 30 s)."""

RECENT = 120.0
"""A bootstrap timeout this many seconds after a failed connection is taken to be caused by it."""

LOGIN_WINDOW = 5.0
"""A connection the broker closes this soon after a SASL login began was refused (see Failures)."""

AFTERMATH = 30.0
"""Seconds after a failed connection during which kafka-python's follow-up lines (its bootstrap giving
up, its traceback for a socket the broker closed) are part of the same failure."""

_AFTERMATH_LINES = ("Bootstrap failed", "Unable to bootstrap", "Failed to build connection log_prefix",
                    "Error receiving network data", "Error sending request data")

CLOSED_DURING_LOGIN = "the broker closed the connection during the SASL login (wrong user name or password?)"

log = get_logger(__name__)


@dataclass(frozen=True)
class ConnectionFailure:
    """What one of kafka-python's lines says went wrong with a connection."""

    kind: Literal["authentication", "tls", "unreachable", "aftermath"]
    text: str = ""
    """authentication: what the broker said; tls: kafka-python's text, with OpenSSL's reason in it;
    unreachable: kafka-python's text, with the errno's name in it (reachability.py)."""


AFTERMATH_LINE = ConnectionFailure("aftermath")
"""A line that only repeats a failure already seen (dropped from the daemon's log, never reported)."""

_NOTED = "karafkad_failure"
"""The LogRecord attribute holding a record's classification (the recorder and the daemon's filter share it)."""


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


class Failures(logging.Filter):
    """Reads kafka-python's lines about failed connections; remembers the last failure, reports it once.

    As a filter on the daemon's log handler it swallows those lines and logs
    one clear line per REPORT_INTERVAL instead; the recorder `watch()`
    installs feeds it in every process, daemon or not.

    kafka-python 3.0.12 does not always see the broker's refusal of a login:
    when the error response and the close arrive in one read, it drops the
    response and reports only "socket disconnected". So a disconnect within
    LOGIN_WINDOW of a SASL login beginning (kafka-python's SASL modules warn
    at each login over SASL_PLAINTEXT) counts as a refused login too.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.last: tuple[float, ConnectionFailure] | None = None
        """(monotonic time, failure) of the last failed connection."""
        self._reported_at: dict[str, float] = {}
        self._since_report: dict[str, int] = {}
        self._login_at = -float("inf")
        self._generic_at = -float("inf")
        self.verbose = False
        """Let kafka-python's own lines through as well (debug logging)."""
        self.kafka: KafkaSettings | None = None
        """The daemon's Kafka settings: the listener and the TLS files its report names."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("kafka"):
            return True
        failure = self.note(record)
        if failure is None:
            return True
        if failure.kind != "aftermath":
            self._report(failure, "Connection lost" in _text(record))
        return self.verbose

    def note(self, record: logging.LogRecord) -> ConnectionFailure | None:
        """What `record` says about a failed connection (None: nothing); each record is read once."""
        if _NOTED in record.__dict__:
            noted: ConnectionFailure | None = record.__dict__[_NOTED]
            return noted
        failure = self._classify(record) if record.name.startswith("kafka") else None
        record.__dict__[_NOTED] = failure
        return failure

    def _classify(self, record: logging.LogRecord) -> ConnectionFailure | None:
        now = time.monotonic()
        if record.name.startswith("kafka.net.sasl") and record.levelno < logging.ERROR:
            with self._lock:
                self._login_at = now  # "Exchanging credentials in the clear during Sasl Authentication"
            return AFTERMATH_LINE
        text = _text(record)
        reason = _authentication_reason(record, text)
        if reason is None and now - self._login_at <= LOGIN_WINDOW and "socket disconnected" in text:
            reason = CLOSED_DURING_LOGIN
        if reason is not None:
            failure = ConnectionFailure("authentication", reason)
        elif record.name.startswith("kafka.net") and tls_causes.is_tls_failure(text):
            failure = ConnectionFailure("tls", text)
        elif record.name.startswith("kafka.net") and unreachable_cause(text) is not None:
            failure = ConnectionFailure("unreachable", text)
        elif any(line in text for line in _AFTERMATH_LINES) and self.recent(AFTERMATH) is not None:
            return AFTERMATH_LINE
        else:
            return None
        with self._lock:
            last = self.last
            # Under TLS 1.3 a refused client certificate sometimes shows only as the broker closing the
            # socket (EOF); that must not hide the alert a neighbouring attempt carried.
            if (last is not None and last[1].kind == "tls" and not tls_causes.is_generic(last[1].text)
                    and failure.kind == "tls" and tls_causes.is_generic(text) and now - last[0] <= RECENT):
                failure = last[1]
            self.last = (now, failure)
        return failure

    def _report(self, failure: ConnectionFailure, lost_connection: bool) -> None:
        now = time.monotonic()
        if failure.kind == "tls" and tls_causes.is_generic(failure.text):
            # A bare EOF names no cause: a broker going away gives one, and under TLS 1.3 a refused client
            # certificate sometimes does; only a second in a row is reported (the next attempt usually
            # carries the broker's alert, which note() then keeps).
            with self._lock:
                first, self._generic_at = now - self._generic_at > RECENT, now
            if first:
                return
        with self._lock:
            # kafka-python writes two to four lines per failed connection, one of them "Connection lost".
            count = self._since_report.get(failure.kind, 0) + lost_connection
            due = now - self._reported_at.get(failure.kind, -float("inf")) >= REPORT_INTERVAL
            if due:
                self._reported_at[failure.kind] = now
            self._since_report[failure.kind] = 0 if due else count
        if not due:
            return
        if failure.kind == "authentication":
            log.error("Kafka authentication failed: the broker refused karafkad's SASL login; the client keeps "
                      "retrying with backoff (check kafka.sasl_mechanism, sasl_plain_username and "
                      "sasl_plain_password)", error=redact(failure.text), refused_logins=max(count, 1),
                      next_report_in=REPORT_INTERVAL)
        elif failure.kind == "unreachable":
            log.error("Kafka is not reachable; the client keeps retrying with backoff", listener=listener(self.kafka),
                      cause=redact(unreachable_cause(failure.text) or failure.text), failed_connections=max(count, 1),
                      next_report_in=REPORT_INTERVAL)
        else:
            log.error("Kafka TLS connection failed; the client keeps retrying with backoff",
                      listener=listener(self.kafka), cause=redact(_tls_words(failure.text, self.kafka)),
                      failed_connections=max(count, 1), next_report_in=REPORT_INTERVAL)

    def recent(self, within: float = RECENT) -> ConnectionFailure | None:
        """The last failed connection, if it was within the last `within` seconds."""
        with self._lock:
            last = self.last
        if last is None or time.monotonic() - last[0] > within:
            return None
        return last[1]


def _authentication_reason(record: logging.LogRecord, text: str) -> str | None:
    args = record.args if isinstance(record.args, tuple) else ()
    for arg in args:
        if isinstance(arg, BaseException):
            found = authentication_error(arg)
            if found is not None:
                return _broker_says(found)
    if any(name in text for name in _NAMES):
        return _broker_says(text)
    return None


def _text(record: logging.LogRecord) -> str:
    """The record's message, and the exception it carries (kafka-python's log.exception lines hide the cause
    there: "Error receiving network data closing socket" with an SSLError)."""
    try:
        text = record.getMessage()
    except Exception:  # a malformed record of kafka-python's: nothing to learn from it
        return ""
    if record.exc_info and record.exc_info[1] is not None:
        text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
    return text


class _Recorder(logging.Handler):
    """On the `kafka` logger: lets `failures` read every line kafka-python logs, whatever prints them."""

    def emit(self, record: logging.LogRecord) -> None:
        failures.note(record)


failures = Failures()
"""The one instance of the process (it remembers the last failed connection for `explain`)."""

_recorder = _Recorder()


def watch() -> None:
    """Let `explain` see kafka-python's reasons, and keep its close race out of the logs (close_race.py): call
    before making a client; idempotent.

    Adds no output: kafka-python's lines are printed only where logging
    was configured to print them (its loggers have a NullHandler otherwise).
    """
    close_race.ignore()
    logger = logging.getLogger("kafka")
    if _recorder not in logger.handlers:
        logger.addHandler(_recorder)


def log_filter(kafka: KafkaSettings | None, verbose: bool) -> Failures:
    """The filter to put on the daemon's stdlib log handler (observability.configure_logging's `log_filters`).

    `kafka` names the listener in the reports; `verbose` (debug logging)
    lets kafka-python's own lines through as well.
    """
    watch()
    failures.kafka = kafka
    failures.verbose = verbose
    return failures


def listener(kafka: KafkaSettings | None) -> str:
    """Where the client connects: "host:port[,host:port] (SECURITY_PROTOCOL)"."""
    if kafka is None:
        return "the bootstrap servers"
    protocol = kafka.security.get("security_protocol", "PLAINTEXT")
    return f"{','.join(kafka.bootstrap_servers)} ({protocol})"


def tls_files(kafka: KafkaSettings | None) -> tls_causes.TlsFiles:
    """The TLS files of a Kafka client, for the words of a cause."""
    security: dict[str, Any] = dict(kafka.security) if kafka is not None else {}
    return tls_causes.TlsFiles("the broker", security.get("ssl_cafile"), security.get("ssl_certfile"),
                              security.get("ssl_keyfile"))


def _tls_words(text: str, kafka: KafkaSettings | None) -> str:
    return tls_causes.tls_cause(text, tls_files(kafka)) or tls_causes.openssl_reason(text)


def _failure_of(exc: BaseException) -> ConnectionFailure | None:
    """The failed connection behind `exc`: in its chain, or (for a bootstrap timeout) the last one logged."""
    found = authentication_error(exc)
    if found is not None:
        return ConnectionFailure("authentication", _broker_says(found))
    if _is_bootstrap_timeout(exc):
        return failures.recent()
    text = _named(exc)
    # Only kafka-python's own errors: a Redis TLS failure reaching a consumer thread is not about Kafka.
    if isinstance(exc, kafka_errors.KafkaError | ssl.SSLError) and tls_causes.is_tls_failure(text):
        return ConnectionFailure("tls", text)
    if isinstance(exc, kafka_errors.KafkaConnectionError) and unreachable_cause(text) is not None:
        return ConnectionFailure("unreachable", text)
    return None


def _is_bootstrap_timeout(exc: BaseException) -> bool:
    """kafka-python's clients raise this from their constructor when no broker answered in time."""
    return isinstance(exc, kafka_errors.KafkaTimeoutError) and "bootstrap" in str(exc)


def explain(exc: BaseException, kafka: KafkaSettings | None = None) -> str:
    """What a Kafka client's error means, in one line, secrets masked: every Kafka error karafkad shows reads so.

    An error that kept the client from the cluster (a broker not reachable,
    a TLS failure, a refused login, a bootstrap that timed out) says where
    and why: "cannot connect to Kafka at HOST:PORT (PROTOCOL): why", why
    being "connection refused: ..." and the like, the TLS failure's cause in
    words, "authentication failed (SASL MECHANISM as user 'NAME'): the
    broker's words", or the client's own error when no cause was logged.
    Anything else is `Name: what happened`, the name said once.
    """
    failure = _failure_of(exc)
    if failure is None or failure.kind == "aftermath":
        if not _is_bootstrap_timeout(exc):
            return redact(_named(exc))
        why = _named(exc)
    elif failure.kind == "authentication":
        why = f"authentication failed{_who(kafka)}: {failure.text}"
    elif failure.kind == "unreachable":
        why = unreachable_cause(failure.text) or failure.text
    else:
        why = _tls_words(failure.text, kafka)
    return redact(f"cannot connect to Kafka at {listener(kafka)}: {why}")


def _named(exc: BaseException) -> str:
    """`Name: what happened`, the name once: kafka-python's errors already carry it (and "[Error N]" before it);
    a broker error code without words gets its documented meaning."""
    name = type(exc).__name__
    text = re.sub(r"^\[Error -?\d+\] ", "", str(exc))
    if text.startswith(name):
        text = text[len(name):].lstrip(": ")
    if text in ("", "None"):
        text = getattr(exc, "description", None) or ""
    return f"{name}: {text}" if text else name


def _who(kafka: KafkaSettings | None) -> str:
    if kafka is None:
        return ""
    security: dict[str, Any] = dict(kafka.security)
    mechanism = security.get("sasl_mechanism")
    user = security.get("sasl_plain_username")
    if not mechanism:
        return ""
    return f" (SASL {mechanism}" + (f" as user {user!r}" if user else "") + ")"
