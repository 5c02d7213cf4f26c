"""Routes files written into a temp folder and loaded as settings, for the tests of the config floor.

`load` gives the Config, `problems` and `only` what a file that does not load
reports; `route` builds the minimal file around a few lines of one route,
`tls_files` the certificate and key files its TLS settings may name.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from karafkad.config.loading import load_config
from karafkad.config.settings import Config
from karafkad.errors import ConfigError, Problem

ROUTE = """\
groups:
  g:
    routes:
      - topic: t
        handler: h.f
"""
"""The smallest routes file: one group, one route."""

TWO_GROUPS = """\
redis:
  url: redis://main:6379/0
groups:
  light:
    routes:
      - topic: clicks
        handler: h.f
        queue: clicks
  heavy:
    redis:
      url: redis://heavy:6379/1
    routes:
      - topic: orders
        handler: h.f
        queue: orders
      - topic: refunds
        handler: h.f
        queue: orders
"""
"""Two groups, each writing its jobs to a Redis of its own (`light` to the top-level one)."""


def write(folder: Path, text: str) -> Path:
    """routes.yaml in `folder`, with the default plugin folder beside it."""
    (folder / "handlers").mkdir(exist_ok=True)
    path = folder / "routes.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def load(folder: Path, text: str, environ: dict[str, str] | None = None) -> Config:
    """Load `text` as a routes file (the environment is `environ`, not the test's)."""
    return load_config(write(folder, text), environ or {})


def problems(folder: Path, text: str, environ: dict[str, str] | None = None) -> list[Problem]:
    """Every problem `text` has (the test fails if it loads)."""
    with pytest.raises(ConfigError) as info:
        load(folder, text, environ)
    return info.value.problems


def only(folder: Path, text: str, environ: dict[str, str] | None = None) -> Problem:
    """The single problem `text` has."""
    found = problems(folder, text, environ)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def route(extra: str = "", head: str = "") -> str:
    """The minimal routes file, with `extra` lines added to its one route and `head` before it."""
    body = textwrap.dedent(extra)
    return textwrap.dedent(head) + ROUTE + textwrap.indent(body, " " * 8)


def tls_files(folder: Path) -> Path:
    """tls/ in `folder` with ca.pem, client.pem, client.key (unencrypted) and client-encrypted.key."""
    tls = folder / "tls"
    tls.mkdir(exist_ok=True)
    for name in ("ca.pem", "client.pem"):
        (tls / name).write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    (tls / "client.key").write_text("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n")
    (tls / "client-encrypted.key").write_text("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
                                              "-----END ENCRYPTED PRIVATE KEY-----\n")
    return tls
