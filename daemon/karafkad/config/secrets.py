"""Passwords and keys: remembered once when read, masked in every text that leaves the process.

A `Secret` prints as `***` wherever it is printed as a setting. Its value is
also remembered in the process's `SecretRegistry`, so `registry.mask()`
catches it inside any other text: an error message that quotes it, a URL, a
log line (observability's log processor and the status page both ask the
registry). One registry per process, as there is one log per process; tests
take a `snapshot()` and `restore()` it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
"""What a secret is printed as."""

SECRET_MIN_LENGTH = 3
"""Shorter secret values are not masked inside other text (masking every "1" in
a log line would garble it and protect nothing worth protecting); they are
still printed as `***` wherever they are printed as a setting."""

SECRET_KEYS = frozenset({"sasl_plain_password", "ssl_password", "password", "token", "password_hash"})
"""Keys whose values are wrapped in Secret as soon as they are read, and never quoted in a problem."""

_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@\[\]]*:)"
                           r"(?P<password>[^\s/]+?)(?=@[^\s@/?#]*(?:[/?#\s]|$))")
"""`scheme://user:password@host`; the password runs to the last `@` before the host (unencoded `@`s too)."""
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:password|sasl_plain_password|ssl_password)=)(?P<password>[^&#\s]+)",
                             re.IGNORECASE)


def mask_url(text: str) -> str:
    """`redis://user:pw@host` -> `redis://user:***@host`, and `?password=pw` -> `?password=***`, anywhere in text."""
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    if "password=" in text.lower():
        text = _QUERY_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return text


class SecretRegistry:
    """Every secret value seen so far, and one precompiled pattern that finds them all in a text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None

    def remember(self, value: object) -> None:
        """Note a secret value, so that `mask` finds it inside any text."""
        if not isinstance(value, str) or len(value) < SECRET_MIN_LENGTH or value in self._values:
            return
        with self._lock:
            self._values = self._values | {value}
            # Longest first: a secret that contains another is masked whole.
            alternatives = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, alternatives)))

    def remember_all(self, values: Iterable[str]) -> None:
        for value in values:
            self.remember(value)

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """One regular expression matching every remembered secret (None when there is none).

        Read on every log line, so it is rebuilt only when a secret is added.
        """
        return self._pattern

    def mask(self, text: str, extra: Iterable[str] = ()) -> str:
        """`text` with every remembered secret, the `extra` ones and URL passwords masked."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        for secret in sorted(extra, key=len, reverse=True):
            if len(secret) >= SECRET_MIN_LENGTH and secret in text:
                text = text.replace(secret, MASK)
        return mask_url(text)

    def snapshot(self) -> frozenset[str]:
        """The remembered values, for `restore` (tests forget the secrets they made)."""
        return self._values

    def restore(self, values: frozenset[str]) -> None:
        with self._lock:
            self._values = frozenset()
            self._pattern = None
        self.remember_all(values)


registry = SecretRegistry()
"""The process's registry: every Secret made anywhere is remembered here."""


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL passwords, the given secrets and every remembered one masked."""
    return registry.mask(text, secrets)


class Secret:
    """A password or key: usable by the clients, printed as `***` everywhere else.

    Every Secret's value is remembered in `registry`, so a log line or an
    error message that quotes it is masked too.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        registry.remember(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def document_secrets(data: Any) -> set[str]:
    """Every value written under a secret key, and every password inside a URL, anywhere in `data`."""
    found: set[str] = set()
    pending: list[tuple[Any, bool]] = [(data, False)]
    while pending:
        node, secret = pending.pop()
        if isinstance(node, dict):
            pending.extend((v, k in SECRET_KEYS) for k, v in node.items())
        elif isinstance(node, list):
            pending.extend((v, secret) for v in node)
        elif secret and node is not None:
            found.add(json.dumps(node) if isinstance(node, bool) else str(node))
        if isinstance(node, str) and "://" in node:
            found.update(m["password"] for m in _URL_PASSWORD.finditer(node))
    return found
