"""Why a connection to a broker could not even be opened, in words: refused, no such host, timed out.

kafka-python 3.0.12 says it as an errno name in a KafkaConnectionError
("111 ECONNREFUSED"), on lines that name the connection only by its node id
("node_id=bootstrap-0"), several times a second while it retries. These are
the words failures.py reports instead, once in a while, beside the address.
"""

from __future__ import annotations

import re

_CAUSES = (
    ("ECONNREFUSED", "connection refused: nothing listens at that address and port (a wrong port, or the broker "
                     "is down)"),
    ("DNS", "the host name does not resolve (a typo in bootstrap_servers, or DNS is down)"),
    ("ETIMEDOUT", "the connection timed out (a firewall, or a wrong address)"),
    ("Connection timed out", "the connection timed out (a firewall, or a wrong address)"),
    ("EHOSTUNREACH", "no route to the host"),
    ("ENETUNREACH", "no route to the host's network"),
)
"""(what kafka-python's text holds, what it means), the first match wins: "DNS" is in both of its lines about
a name that does not resolve ("DNS lookup failed", "DNS Resolution failure")."""

_ERROR = re.compile(r"Kafka\w*Error: [^()]*")
"""kafka-python's error in one of its lines, up to what it adds in parentheses ("(backoff 0.35 secs)")."""


def unreachable_cause(text: str) -> str | None:
    """What a line or error of kafka-python's says kept a connection from opening, in words (kafka-python's own
    in parentheses); None when it says something else."""
    for sign, words in _CAUSES:
        if sign in text:
            return f"{words} ({_errno_words(text)})"
    return None


def _errno_words(text: str) -> str:
    """kafka-python's error in `text` ("KafkaConnectionError: 111 ECONNREFUSED"), or all of it."""
    found = _ERROR.search(text)
    return found.group().strip() if found else text
