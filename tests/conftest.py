"""Options shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", default=False,
                     help="also run the long fault-injection soak tests (minutes each)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--soak"):
        return
    deselected = [item for item in items if item.get_closest_marker("soak")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("soak")]


@pytest.fixture(autouse=True)
def _forget_secrets_afterwards() -> Iterator[None]:
    """config remembers every secret it loads, process-wide, so log lines mask them. A test (or a fuzzing
    run) that loads a password like "wrong" must not make a later test's expected text come out masked."""
    from karafkad import config

    before = set(config._known_secrets)
    yield
    if config._known_secrets != before:
        config._known_secrets.clear()
        config._known_secrets.update(before)
        config._known_version[0] += 1
