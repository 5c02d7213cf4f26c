"""cli/main.py: a command runs its own module, imported only when it runs, and its answer is the exit status."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from karafkad.cli import control, inspection, route_tests
from karafkad.cli.main import main
from karafkad.cli.parser import DEFAULT_CONFIG


def _recording(calls: list[tuple[str, Any]], name: str, answer: int) -> Any:
    """A stand-in for a command's function: notes its name and arguments, answers `answer`."""
    def command(*args: Any, **options: Any) -> int:
        calls.append((name, (*args, *options.values())))
        return answer
    return command


class TestMain:
    def test_each_command_runs_its_function_and_exits_with_its_answer(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """stop, reload and status go to cli/control.py, check to cli/inspection.py, with the options parsed;
        main returns what the function returned."""
        calls: list[tuple[str, Any]] = []
        for name, answer in (("stop", 11), ("reload", 12), ("status", 13)):
            monkeypatch.setattr(control, name, _recording(calls, name, answer))
        monkeypatch.setattr(inspection, "check", _recording(calls, "check", 14))
        assert main(["stop", "--pidfile", "p", "--timeout", "5"]) == 11
        assert main(["reload", "--pidfile", "p"]) == 12
        assert main(["status", "--pidfile", "p", "--http-port", "8080"]) == 13
        assert main(["check", "-q", "-c", "r.yaml"]) == 14
        assert calls == [("stop", (Path("p"), 5.0)), ("reload", (Path("p"), None)), ("status", (Path("p"), 8080)),
                         ("check", (Path("r.yaml"), True))]

    def test_test_runs_the_files_given_or_those_beside_the_routes_file(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """`test FILE` names no routes file (each tests file says its own); `test` alone looks beside the default
        routes file."""
        calls: list[tuple[str, Any]] = []
        monkeypatch.setattr(route_tests, "run_tests_command", _recording(calls, "test", 0))
        main(["test", "a_test.yaml"])
        main(["test"])
        assert calls == [("test", ([Path("a_test.yaml")], None, False)), ("test", ([], Path(DEFAULT_CONFIG), False))]

    def test_a_check_that_fails_early_loads_no_client_library(self, tmp_path: Path) -> None:
        """`karafkad check` on a file with a typo reports it without importing kafka-python, RQ or redis-py (a
        third of a second that the commands needing them pay)."""
        routes = tmp_path / "routes.yaml"
        routes.write_text("groups:\n  g:\n    routes:\n      - {topc: a, handler: h.f}\n")
        probe = textwrap.dedent(f"""
            import sys
            from karafkad.cli.main import main
            code = main(["check", "-q", "-c", {str(routes)!r}])
            print(code, sorted(m for m in ("kafka", "rq", "redis") if m in sys.modules))
            """)
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
        assert result.stdout.split("\n")[-2] == "1 []", result.stderr
