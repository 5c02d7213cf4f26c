"""The package keeps the shape docs/architecture.md gives it: small modules (the import floors are lint-imports')."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "daemon" / "karafkad"

MAX_MODULE_LINES = 450
"""Issue 10's bound: a module that grows past it has more than one job; split it."""


def test_no_module_of_the_package_is_over_450_lines() -> None:
    long = {str(path.relative_to(PACKAGE)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}, long
