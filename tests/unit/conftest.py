"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tables import forgetting_plugin_imports


@pytest.fixture
def isolated_imports() -> Iterator[None]:
    """Plugin modules a test imports (from folders it put on sys.path) are forgotten afterwards.
    A test module opts in with `pytestmark = pytest.mark.usefixtures("isolated_imports")`."""
    with forgetting_plugin_imports():
        yield
