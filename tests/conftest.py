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
    from karafkad.config.secrets import registry

    before = registry.snapshot()
    yield
    if registry.snapshot() != before:
        registry.restore(before)


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A test that configures logging (to a stream it then closes) must not leave later tests logging there."""
    import logging

    import structlog

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)
