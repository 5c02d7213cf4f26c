"""config/web.py: the routes file's `web` section: the console's sign-in (inline, from ${VAR} or from a file, never
quoted in a problem) and its TLS, refused over plain HTTP off loopback."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from karafkad.config.loading import load_config
from karafkad.config.secrets import registry
from karafkad.config.settings import Config
from karafkad.config.web import loopback
from karafkad.errors import ConfigError, Problem

GROUPS = """\
groups:
  g:
    routes:
      - topic: t
        handler: h.f
"""
TOKEN = "s3cret-console-token-0001"


def load(folder: Path, text: str, environ: dict[str, str] | None = None) -> Config:
    (folder / "handlers").mkdir(exist_ok=True)
    path = folder / "routes.yaml"
    path.write_text(textwrap.dedent(text) + GROUPS)
    return load_config(path, environ or {})


def problems(folder: Path, text: str, environ: dict[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load(folder, text, environ)
    return info.value.problems


class TestWeb:
    def test_without_a_web_section_the_console_is_read_only(self, tmp_path: Path) -> None:
        """Without a web section there is no sign-in: the console is read-only, over plain HTTP."""
        web = load(tmp_path, "").web
        assert (web.auth, web.tls) == (None, False)

    def test_a_token_from_the_environment_is_a_secret(self, tmp_path: Path) -> None:
        """Read through ${VAR}, wrapped at once: printed as ***, masked in any text."""
        web = load(tmp_path, "web: {auth: {token: '${KARAFKAD_WEB_TOKEN}'}}\n", {"KARAFKAD_WEB_TOKEN": TOKEN}).web
        assert web.auth is not None and web.auth.token is not None
        assert web.auth.token.reveal() == TOKEN and str(web.auth.token) == "***"
        assert registry.mask(f"token={TOKEN}") == "token=***"

    def test_a_user_and_a_password_hash_from_files(self, tmp_path: Path) -> None:
        """The token and the password hash may each come from a file (its first line)."""
        (tmp_path / "hash").write_text("pbkdf2_sha256$1000$c2FsdA==$aGFzaA==\n")
        (tmp_path / "token").write_text(f"{TOKEN}\n")
        web = load(tmp_path, "web: {auth: {user: ops, password_hash_file: hash, token_file: token, "
                             "protect_reads: true}}\n").web
        assert web.auth is not None and web.auth.user == "ops" and web.auth.protect_reads
        assert web.auth.password_hash is not None and web.auth.password_hash.reveal().startswith("pbkdf2_sha256$")
        assert web.auth.token is not None and web.auth.token.reveal() == TOKEN

    @pytest.mark.parametrize(("auth", "expected"), [
        ("{}", "set token (or token_file), or user and password_hash"),
        ("{user: ops}", "a user signs in with a password: set password_hash"),
        ("{token_file: missing}", "missing cannot be read"),
        ("{token: x1y2z3}", "is too short: at least 16 characters"),
        (f"{{token: {TOKEN}, token_file: x}}", "token is written inline too: keep one"),
        ("{password_hash: 'md5$x'}", "does not match"),
    ])
    def test_an_auth_nobody_could_sign_in_with_is_refused(self, tmp_path: Path, auth: str, expected: str) -> None:
        """An auth nobody could sign in with is refused, saying why, and never quoting the secret."""
        found = problems(tmp_path, f"web: {{auth: {auth}}}\n")
        assert any(expected in str(p) for p in found), found
        assert all(TOKEN not in str(p) for p in found)  # a secret is never quoted

    def test_signing_in_off_loopback_needs_tls(self, tmp_path: Path) -> None:
        """Plain HTTP on another address would send the token in the clear: refused, until web.tls is set."""
        text = f"daemon: {{http_host: 10.1.2.3}}\nweb: {{auth: {{token: {TOKEN}}}}}\n"
        [problem] = problems(tmp_path, text)
        assert "set web.tls" in str(problem) and "web.auth" in str(problem)
        (tmp_path / "cert.pem").write_text("x")
        (tmp_path / "key.pem").write_text("x")
        web = load(tmp_path, f"daemon: {{http_host: 10.1.2.3}}\nweb: {{auth: {{token: {TOKEN}}}, "
                             "tls: {certfile: cert.pem, keyfile: key.pem}}\n").web
        assert web.tls and web.certfile == str(tmp_path / "cert.pem")

    def test_tls_files_must_exist(self, tmp_path: Path) -> None:
        """web.tls names files that exist: each one missing is a problem at its key."""
        found = problems(tmp_path, "web: {tls: {certfile: nope.pem, keyfile: nope.key}}\n")
        assert [str(p).rsplit(": ", 1)[-1] for p in found] == [f"{tmp_path}/nope.pem does not exist",
                                                              f"{tmp_path}/nope.key does not exist"]

    @pytest.mark.parametrize(("host", "local"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                 ("0.0.0.0", False),  # noqa: S104 - a value checked, not bound
                                                 ("10.1.2.3", False), ("console.example", False)])
    def test_loopback(self, host: str, local: bool) -> None:
        """Only loopback addresses (and `localhost`) count as serving this machine alone."""
        assert loopback(host) is local
