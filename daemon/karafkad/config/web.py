"""The routes file's `web` section as settings: the console's sign-in (token, or user and password hash, inline or
from a file) and its TLS, with every problem at its place in the file.

The secrets read here are wrapped in Secret at once (masked in every log line,
error and page, config/secrets.py); the files are read at load time, so a
missing token file is a problem of `karafkad check`, not a surprise at the
first sign-in.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from karafkad.config.secrets import Secret
from karafkad.config.settings import DaemonSettings, WebAuth, WebSettings
from karafkad.config.yamlfile import Document, PathKey
from karafkad.errors import Problem

SECRET_FILE_MAX_BYTES = 64 * 1024
"""A token or password-hash file above this is no such file (one line is expected)."""
PASSWORD_HASH = re.compile(r"pbkdf2_sha256\$[0-9]+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+\Z")
"""What `karafkad web-password` prints (the schema's pattern for an inline hash)."""


def web_settings(base: Path, section: Mapping[str, Any], daemon: DaemonSettings,
                 document: Document) -> tuple[WebSettings, list[Problem]]:
    """The typed `web` section (relative paths from `base`, the routes file's folder), and its problems."""
    problems: list[Problem] = []
    auth = None
    written = section.get("auth")
    if written is not None:
        auth = _auth(base, written, document, problems)
    tls = section.get("tls")
    certfile = keyfile = None
    if tls is not None:
        certfile, keyfile = (str(base / tls[key]) for key in ("certfile", "keyfile"))
        for key, path in (("certfile", certfile), ("keyfile", keyfile)):
            if not Path(path).is_file():
                problems.append(document.problem(("web", "tls", key), f"{path} does not exist"))
    if auth is not None and tls is None and not loopback(daemon.http_host):
        problems.append(document.problem(("web", "auth"), f"daemon.http_host is {daemon.http_host}, not a loopback "
                                                          "address: signing in over plain HTTP would send the "
                                                          "token or password in the clear; set web.tls"))
    return WebSettings(auth, certfile, keyfile), problems


def loopback(host: str) -> bool:
    """Whether `host` (an address or `localhost`) only serves this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _auth(base: Path, auth: Mapping[str, Any], document: Document, problems: list[Problem]) -> WebAuth:
    at: PathKey = ("web", "auth")
    token = _inline_or_file(base, auth, "token", document, problems)
    password_hash = _inline_or_file(base, auth, "password_hash", document, problems)
    user = auth.get("user")
    if (user is None) != (password_hash is None) and not problems:
        missing = "password_hash (or password_hash_file)" if user is not None else "user"
        problems.append(document.problem(at, f"a user signs in with a password: set {missing} as well"))
    if token is None and user is None and not problems:
        problems.append(document.problem(at, "set token (or token_file), or user and password_hash: without either "
                                             "nobody could sign in (leave auth out for a read-only console)"))
    return WebAuth(Secret(token) if token is not None else None, user,
                   Secret(password_hash) if password_hash is not None else None, bool(auth.get("protect_reads")))


def _inline_or_file(base: Path, auth: Mapping[str, Any], key: str, document: Document,
                    problems: list[Problem]) -> str | None:
    """`auth[key]`, or the first line of the file `auth[key + "_file"]` names (both written: a problem)."""
    inline, file = auth.get(key), auth.get(f"{key}_file")
    if inline is not None and file is not None:
        problems.append(document.problem(("web", "auth", f"{key}_file"), f"{key} is written inline too: keep one"))
        return None
    if file is None:
        return inline if isinstance(inline, str) else None
    path = base / file
    try:
        with open(path, "rb") as stream:
            data = stream.read(SECRET_FILE_MAX_BYTES + 1)
    except OSError as exc:
        problems.append(document.problem(("web", "auth", f"{key}_file"),
                                         f"{path} cannot be read: {exc.strerror or exc}"))
        return None
    lines = data.decode("utf-8", "replace").strip().splitlines()
    if len(data) > SECRET_FILE_MAX_BYTES or not lines or not lines[0].strip():
        problems.append(document.problem(("web", "auth", f"{key}_file"), f"{path} holds no {key} on its first line"))
        return None
    value = lines[0].strip()
    if key == "password_hash" and not PASSWORD_HASH.match(value):
        problems.append(document.problem(("web", "auth", f"{key}_file"), f"{path} holds no password hash as "
                                                                         "`karafkad web-password` prints it"))
        return None
    if key == "token" and len(value) < 16:
        problems.append(document.problem(("web", "auth", f"{key}_file"), f"the token in {path} is shorter than 16 "
                                                                         "characters"))
        return None
    return value
