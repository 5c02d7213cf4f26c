"""web/auth.py: password hashes, sessions that end, failed sign-ins counted per address, same-site POSTs, and
who a request comes from."""

from __future__ import annotations

import pytest

from karafkad.config.secrets import Secret
from karafkad.config.settings import WebAuth
from karafkad.web import auth
from karafkad.web.auth import Failures, Gate, Sessions, check_password, hash_password, same_site


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestPasswords:
    def test_a_hash_checks_its_password_only(self) -> None:
        """PBKDF2-SHA256 with a random salt: two hashes of one password differ, both check."""
        first, second = hash_password("pw", 1000), hash_password("pw", 1000)
        assert first != second and first.startswith("pbkdf2_sha256$1000$")
        assert check_password("pw", first) and check_password("pw", second)
        assert not check_password("pw2", first)

    @pytest.mark.parametrize("encoded", ["", "md5$1$a$b", "pbkdf2_sha256$x$a$b", "pbkdf2_sha256$1$!!$b"])
    def test_a_hash_that_is_no_hash_checks_nothing(self, encoded: str) -> None:
        """A hash that is no hash checks nothing."""
        assert not check_password("pw", encoded)


class TestSessions:
    def test_a_session_ends_after_its_time(self) -> None:
        """A session ends after its time."""
        clock = Clock()
        sessions = Sessions(clock)
        sid, session = sessions.create("ops")
        assert sessions.get(sid) is session and len(session.csrf) > 30
        clock.now += auth.SESSION_SECONDS
        assert sessions.get(sid) is None and sessions.get(None) is None

    def test_the_oldest_session_goes_past_the_cap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The oldest session goes past the cap."""
        monkeypatch.setattr(auth, "MAX_SESSIONS", 2)
        sessions = Sessions(Clock())
        first, _ = sessions.create("a")
        sessions.create("b")
        sessions.create("c")
        assert sessions.get(first) is None


class TestFailures:
    def test_an_address_is_blocked_past_the_allowance_for_a_window(self) -> None:
        """An address is blocked past the allowance for a window."""
        clock = Clock()
        failures = Failures(clock)
        for _ in range(auth.FAILURES_ALLOWED):
            assert not failures.blocked("10.0.0.1")
            failures.note("10.0.0.1")
        assert failures.blocked("10.0.0.1") and not failures.blocked("10.0.0.2")
        clock.now += auth.FAILURE_WINDOW + 1
        assert not failures.blocked("10.0.0.1")


class TestSameSite:
    @pytest.mark.parametrize(("headers", "ok"), [
        ({}, True),  # a script (curl) sends neither; its session still needs the CSRF token
        ({"origin": "http://h:1"}, True),
        ({"origin": "http://evil:1"}, False),
        ({"origin": "null"}, False),
        ({"referer": "http://h:1/dead-letters?x=1"}, True),
        ({"referer": "http://evil/"}, False),
        ({"origin": "http://h:1", "sec-fetch-site": "cross-site"}, False),
        ({"origin": "http://h:1", "sec-fetch-site": "same-site"}, False),  # another port of the host
    ])
    def test_another_site_is_told_apart(self, headers: dict[str, str], ok: bool) -> None:
        """Another site is told apart."""
        assert same_site(headers, "h:1") is ok


class TestGate:
    def test_read_only_without_auth(self) -> None:
        """Read only without auth."""
        gate = Gate(None)
        assert not gate.actions and gate.sign_in("x" * 20, "", "") is None
        assert gate.identify({"authorization": "Bearer anything"}) is None

    def test_the_token_and_the_user_sign_in(self) -> None:
        """The token and the user sign in."""
        gate = Gate(WebAuth(Secret("t" * 20), "ops", Secret(hash_password("pw", 1000))))
        assert gate.sign_in("t" * 20, "", "") == "token"
        assert gate.sign_in("", "ops", "pw") == "ops"
        assert gate.sign_in("t" * 19, "ops", "nope") is None
        assert gate.sign_in("", "root", "pw") is None

    def test_identity_from_a_bearer_token_or_a_session_cookie(self) -> None:
        """Identity from a bearer token or a session cookie."""
        gate = Gate(WebAuth(Secret("t" * 20)))
        bearer = gate.identify({"authorization": "Bearer " + "t" * 20})
        assert bearer is not None and (bearer.who, bearer.session) == ("token (bearer)", None)
        assert gate.identify({"authorization": "Bearer wrong"}) is None
        sid, session = gate.sessions.create("token")
        found = gate.identify({"cookie": f"other=1; {auth.COOKIE}={sid}"})
        assert found is not None and found.session is session
