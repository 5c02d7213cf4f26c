"""Who may act on the console: sign-in with the token or a user's password, sessions, and CSRF protection.

Without `web.auth` the console is read-only: every action is refused (403)
and no page offers one. With it:
- a browser signs in on /login (the token, or user and password checked
  against a PBKDF2 hash) and gets a session cookie (random, HttpOnly,
  SameSite=Strict, Secure over TLS); a session ends after SESSION_SECONDS,
  or at /logout;
- a script sends `Authorization: Bearer TOKEN` with each action instead;
- credentials that do not match are refused with 401; repeated failures from
  one address are slowed down (FAILURES_ALLOWED per FAILURE_WINDOW, then 429).
A form POST with a session must carry the session's CSRF token and must not
come from another site (Origin, or Sec-Fetch-Site): a forged cross-site POST
is refused with 403, even when the browser sent the cookie. A bearer token
is never sent by a browser on its own, so it needs neither.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from karafkad.config.settings import WebAuth

COOKIE = "karafkad_session"
SESSION_SECONDS = 12 * 3600
"""A session lasts a working day; then the operator signs in again."""
MAX_SESSIONS = 1000
"""Sessions kept at most (the oldest is dropped): the daemon's memory is not anyone's to fill."""
PBKDF2_ITERATIONS = 600_000
"""PBKDF2-HMAC-SHA256 iterations of a new password hash (OWASP's 2023 advice; ~0.3 s per check here)."""
FAILURES_ALLOWED = 10
FAILURE_WINDOW = 60.0
"""Failed sign-ins from one address allowed per window before it is told to wait (429)."""


def hash_password(password: str, iterations: int = PBKDF2_ITERATIONS, salt: bytes | None = None) -> str:
    """`pbkdf2_sha256$ITERATIONS$SALT$HASH` (base64), what web.auth.password_hash holds."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, encoded: str) -> bool:
    """Whether `password` is the one `encoded` (hash_password's form) was made from."""
    try:
        scheme, iterations, salt, digest = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        expected = base64.b64decode(digest)
        found = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(found, expected)


@dataclass
class Session:
    who: str
    csrf: str
    expires: float
    flash: list[str] = field(default_factory=list)
    """Messages to show on the next page (what an action did)."""


@dataclass(frozen=True)
class Identity:
    """Who sends a request, and how: a browser's session (its CSRF token to check), or a bearer token."""

    who: str
    session: Session | None = None


class Sessions:
    """The signed-in browsers, in memory (a restart signs everyone out)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def create(self, who: str) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        session = Session(who, secrets.token_urlsafe(32), self.clock() + SESSION_SECONDS)
        with self._lock:
            while len(self._sessions) >= MAX_SESSIONS:
                del self._sessions[next(iter(self._sessions))]
            self._sessions[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.expires <= self.clock():
                del self._sessions[session_id]
                return None
            return session

    def drop(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)


class Failures:
    """Failed sign-ins per address over the last FAILURE_WINDOW."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def blocked(self, address: str) -> bool:
        with self._lock:
            recent = self._seen.get(address)
            now = self.clock()
            while recent and now - recent[0] > FAILURE_WINDOW:
                recent.popleft()
            return recent is not None and len(recent) >= FAILURES_ALLOWED

    def note(self, address: str) -> None:
        with self._lock:
            if len(self._seen) > MAX_SESSIONS:
                self._seen.clear()
            self._seen.setdefault(address, deque()).append(self.clock())


def cookie_of(headers: Mapping[str, str]) -> str | None:
    """The session id in a request's Cookie header."""
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def same_site(headers: Mapping[str, str], host: str) -> bool:
    """Whether a POST comes from the console's own pages: no `Sec-Fetch-Site: cross-site`, and an Origin (or,
    without one, a Referer) naming this host, when the browser sends one."""
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = headers.get("origin") or headers.get("referer")
    if not origin or origin == "null":
        return origin != "null"
    return urlsplit(origin).netloc == host


class Gate:
    """Decides who a request comes from and whether it may act, for one web.auth (None: read-only)."""

    def __init__(self, auth: WebAuth | None, sessions: Sessions | None = None,
                 failures: Failures | None = None) -> None:
        self.auth = auth
        self.sessions = sessions or Sessions()
        self.failures = failures or Failures()

    @property
    def actions(self) -> bool:
        return self.auth is not None

    def sign_in(self, token: str, user: str, password: str) -> str | None:
        """Who the credentials sign in (`token` or the user's name), or None."""
        auth = self.auth
        if auth is None:
            return None
        if token and auth.token is not None and hmac.compare_digest(token.encode(), auth.token.reveal().encode()):
            return "token"
        if (user and auth.user is not None and auth.password_hash is not None
                and hmac.compare_digest(user.encode(), auth.user.encode())
                and check_password(password, auth.password_hash.reveal())):
            return auth.user
        return None

    def bearer(self, headers: Mapping[str, str]) -> str | None:
        """The token of an `Authorization: Bearer` header, or None."""
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None

    def identify(self, headers: Mapping[str, str]) -> Identity | None:
        """Who a request comes from: its session, or a valid bearer token (None: nobody known)."""
        if self.auth is None:
            return None
        token = self.bearer(headers)
        if token is not None:
            return Identity("token (bearer)") if self.sign_in(token, "", "") else None
        session = self.sessions.get(cookie_of(headers))
        return Identity(session.who, session) if session is not None else None
