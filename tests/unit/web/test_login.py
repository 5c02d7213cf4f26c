"""web/login.py: the sign-in card: a form for a token or a user and password with web.auth, a note without it."""

from __future__ import annotations

from karafkad.web.login import login_body


class TestLogin:
    def test_without_web_auth_nobody_signs_in(self) -> None:
        """A read-only console has no form to fill, and says why."""
        card = login_body(False, "/", "")
        assert "<form" not in card and "web.auth is not configured" in card

    def test_the_form_returns_to_the_page_asked_and_says_why_the_last_try_failed(self) -> None:
        """The page to go back to rides in the form (escaped), and so does the reason of a failed try."""
        card = login_body(True, '/held"><script>', "wrong <token>")
        assert '<input type="hidden" name="back" value="/held&quot;&gt;&lt;script&gt;">' in card
        assert "wrong &lt;token&gt;" in card and 'name="token"' in card and 'name="password"' in card
