"""cli/web_password.py: `karafkad web-password` prints the hash web.auth.password_hash takes, never the password."""

from __future__ import annotations

import io

import pytest

from karafkad import defaults
from karafkad.cli.main import main
from karafkad.web.auth import check_password


class TestWebPassword:
    def test_the_first_line_of_stdin_is_hashed(self, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
        """The first line of stdin is hashed."""
        monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\nignored\n"))
        assert main(["web-password", "--iterations", "1000"]) == defaults.EXIT_OK
        printed = capsys.readouterr().out.strip()
        assert printed.startswith("pbkdf2_sha256$1000$") and "correct horse" not in printed
        assert check_password("correct horse", printed) and not check_password("wrong", printed)

    def test_no_password_is_exit_1(self, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
        """No password is exit 1."""
        monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
        assert main(["web-password"]) == defaults.EXIT_CONFIG
        assert "no password" in capsys.readouterr().err
