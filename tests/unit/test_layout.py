"""The package keeps the shape docs/architecture.md gives it: small modules, and tests/unit mirroring them one test
file to one module, one class per unit, a docstring per test (the import floors are lint-imports')."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "daemon" / "karafkad"
UNIT = ROOT / "tests" / "unit"

MAX_MODULE_LINES = 450
"""Issue 10's bound: a module that grows past it has more than one job; split it."""

WITHOUT_LOGIC = {
    "__main__.py": "`python -m karafkad` calls cli.main: the console script's tests run that",
    "defaults.py": "named constants only, each with its reason",
    "clients/kafka/types.py": "Protocols and type aliases that kafka-python's classes fit: mypy checks them",
    "consuming/services.py": "a dataclass of what the consumer threads share, built by cli/start.py",
    "supervision/status.py": "TypedDicts: the shape of the status snapshot, which mypy checks",
}
"""Modules without a test file of their own, and why none is needed (each package's `__init__.py` is one too: a
docstring naming its modules, and at most a re-export). A module listed here must stay without logic: see
TestTestsMirrorThePackage.test_a_module_said_to_have_no_logic_has_none."""

THEMED = {
    "test_docs.py": "the documentation agrees with the code",
    "test_layout.py": "this file: the package's and the tests' shape",
    "test_example_app.py": "an application's own route tests, as docs/testing.md shows them",
    "test_scripts.py": "scripts/services, the shell scripts' one unit test",
    "config/test_fuzz_config.py": "fuzzing the whole routes-file loader (docs/security.md)",
    "routes/test_fuzz_filters.py": "fuzzing the filter language, compiler and run time (docs/security.md)",
    "routes/test_security_jobs.py": "what reaches Redis in a job payload (docs/security.md)",
    "routes/test_security_plugins.py": "each way a handler path could leave the plugin folders (docs/security.md)",
}
"""Test files that test a promise across modules rather than one module, and what they test."""


def modules() -> list[str]:
    """Every module of the package, as a path below daemon/karafkad."""
    return sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py"))


def mirror_of(module: str) -> str:
    """Where a module's unit tests are: tests/unit/<its folder>/test_<its name>."""
    path = Path(module)
    return str(path.parent / f"test_{path.name}") if str(path.parent) != "." else f"test_{path.name}"


def real_functions(tree: ast.Module) -> list[str]:
    """Functions and methods of a module whose body does something (not only a docstring, `...` or `pass`)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            if any(not isinstance(s, ast.Pass) for s in body):
                found.append(node.name)
    return found


class TestModules:
    def test_no_module_of_the_package_is_over_450_lines(self) -> None:
        """A module past MAX_MODULE_LINES has more than one job."""
        long = {str(path.relative_to(PACKAGE)): n for path in PACKAGE.rglob("*.py")
                if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
        assert long == {}, long

    def test_every_logger_is_named_after_its_module(self) -> None:
        """get_logger(__name__) everywhere: a log line's logger says which module wrote it."""
        named = [(str(path.relative_to(PACKAGE)), ast.unparse(node.args[0]) if node.args else "")
                 for path in PACKAGE.rglob("*.py") for node in ast.walk(ast.parse(path.read_text("utf-8")))
                 if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "get_logger"]
        assert named and [(module, name) for module, name in named if name != "__name__"] == []


class TestTestsMirrorThePackage:
    def test_every_module_with_logic_has_its_own_test_file(self) -> None:
        """karafkad/<floor>/<module>.py is tested in tests/unit/<floor>/test_<module>.py, unless listed in
        WITHOUT_LOGIC (or a package's __init__.py)."""
        missing = [f"{m} -> tests/unit/{mirror_of(m)}" for m in modules()
                   if not m.endswith("__init__.py") and m not in WITHOUT_LOGIC and not (UNIT / mirror_of(m)).exists()]
        assert missing == []

    def test_a_module_said_to_have_no_logic_has_none(self) -> None:
        """The exceptions stay exceptions: a listed module, or a package's __init__.py, that gains a function
        with a body needs its test file (and leaves the list)."""
        exempt = [m for m in modules() if m in WITHOUT_LOGIC or m.endswith("__init__.py")]
        grown = {m: names for m in exempt if (names := real_functions(ast.parse((PACKAGE / m).read_text())))}
        assert grown == {}
        assert set(WITHOUT_LOGIC) <= set(modules()), "a module listed in WITHOUT_LOGIC is gone: drop it"

    def test_every_test_file_tests_a_module_or_says_its_theme(self) -> None:
        """A test file named for no module (one that was renamed, moved or removed) is found; themed files are
        listed in THEMED."""
        expected = {mirror_of(m) for m in modules()}
        files = sorted(str(p.relative_to(UNIT)) for p in UNIT.rglob("test_*.py"))
        strays = [f for f in files if f not in expected and f not in THEMED]
        assert strays == []
        assert set(THEMED) <= set(files), "a file listed in THEMED is gone: drop it"


class TestTestsAreWrittenAlike:
    def test_every_test_is_in_a_class_and_says_what_it_proves(self) -> None:
        """One test class per unit; every test's docstring states the behaviour it checks."""
        loose, silent = [], []
        for path in sorted(UNIT.rglob("test_*.py")):
            tree = ast.parse(path.read_text("utf-8"))
            name = path.relative_to(UNIT)
            loose += [f"{name}::{n.name}" for n in tree.body
                      if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
            for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
                silent += [f"{name}::{cls.name}::{f.name}" for f in cls.body
                           if isinstance(f, ast.FunctionDef) and f.name.startswith("test") and not ast.get_docstring(f)]
        assert loose == []
        assert silent == []
