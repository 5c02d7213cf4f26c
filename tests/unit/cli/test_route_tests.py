"""cli/route_tests.py: `karafkad test`, and the route tests `karafkad check` runs, printed as diffs and a summary."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from console import run_karafkad
from route_test_files import EXAMPLE, EXAMPLE_TESTS, WRONG, WRONG_DIFF, write_tests

from karafkad import defaults
from karafkad.cli.main import main
from karafkad.cli.route_tests import report
from karafkad.testing.runner import run_route_tests
from karafkad.testing.suite import load_route_tests

pytestmark = pytest.mark.usefixtures("isolated_imports")


class TestTestCommand:
    """run_tests_command: `karafkad test`, as a user runs it."""

    def test_the_example_route_tests_pass(self) -> None:
        """`karafkad test config/routes_test.yaml` exits 0 with a count of passed tests."""
        result = run_karafkad("test", str(EXAMPLE_TESTS))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("route tests passed")
        assert result.stderr == ""

    def test_the_tests_beside_the_routes_file_are_found(self) -> None:
        """Without a file, `karafkad test -c routes.yaml` runs routes_test.yaml beside it."""
        result = run_karafkad("test", "-c", str(EXAMPLE), "-v")
        assert result.returncode == 0, result.stderr
        assert "PASS an audit tombstone becomes a job with params null" in result.stdout

    def test_a_deliberately_wrong_test_fails_with_a_clear_diff(self, tmp_path: Path) -> None:
        """A test expecting the wrong queue exits 1, naming the test and showing expected (-) and actual (+)."""
        wrong = EXAMPLE_TESTS.read_text().replace("routes: routes.yaml", f"routes: {EXAMPLE}").replace(
            "        enqueue: {queue: analytics, function: audit.store_line, params: user ada logged in}",
            "        enqueue: {queue: audit, function: audit.store_line, params: user ada logged in}")
        path = tmp_path / "wrong_test.yaml"
        path.write_text(wrong)
        result = run_karafkad("test", str(path))
        assert result.returncode == defaults.EXIT_CONFIG
        err = result.stderr.splitlines()
        failed = next(i for i, line in enumerate(err) if "FAIL" in line)
        assert err[failed] == f"{path}:104: FAIL an audit line is passed on as text"
        assert err[failed + 1:failed + 4] == ["    --- expected", "    +++ actual", "    @@ -1,5 +1,5 @@"]
        assert "    -    queue: audit" in err and "    +    queue: analytics" in err
        assert err[-1].endswith("11 route tests passed, 1 failed")

    def test_a_missing_tests_file_is_named(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """No route tests beside the routes file: exit 1 naming the file it looked for."""
        assert main(["test", "-c", str(tmp_path / "shop.yaml")]) == defaults.EXIT_CONFIG
        assert f"expected {tmp_path / 'shop_test.yaml'}" in capsys.readouterr().err


class TestReport:
    """report: failures with their diff on stderr, the summary on stdout."""

    def test_failures_go_to_stderr_with_file_line_and_an_indented_diff(self, tmp_path: Path) -> None:
        """FILE:LINE: FAIL name, the diff indented, then a count of passed and failed."""
        suite = load_route_tests(write_tests(tmp_path, WRONG), environ={})
        out, err = io.StringIO(), io.StringIO()
        assert report(suite, run_route_tests(suite), out=out, err=err) is False
        lines = err.getvalue().splitlines()
        assert lines[0] == f"{suite.path}:3: FAIL a big order is only processed"
        assert lines[1:-1] == ["    " + line for line in WRONG_DIFF.splitlines()]
        assert lines[-1] == f"{suite.path}: 0 route tests passed, 1 failed"
        assert out.getvalue() == ""

    def test_verbose_lists_passes(self) -> None:
        """-v prints each passing test on stdout, then the count."""
        suite = load_route_tests(EXAMPLE_TESTS, environ={})
        out = io.StringIO()
        assert report(suite, run_route_tests(suite), verbose=True, out=out, err=io.StringIO())
        lines = out.getvalue().splitlines()
        assert lines[0] == f"{EXAMPLE_TESTS}:9: PASS an ordinary order becomes one job on the orders queue, and " \
                           "no alert"
        assert lines[-1] == f"{EXAMPLE_TESTS}: {len(suite.tests)} route tests passed"


class TestCheckRunsRouteTests:
    """check_route_tests: `karafkad check` runs the tests beside the routes file."""

    def _app(self, tmp_path: Path, tests: str) -> Path:
        """shop.yaml with one filtered route and its handler, and `tests` as shop_test.yaml beside it."""
        (tmp_path / "handlers").mkdir()
        (tmp_path / "handlers" / "kd_rt_app.py").write_text("def f(params):\n    return params\n")
        routes = tmp_path / "shop.yaml"
        routes.write_text("groups:\n  g:\n    routes:\n"
                          "      - {name: r, topic: t, handler: kd_rt_app.f, filter: 'params.n > 1', on_error: skip}\n")
        write_tests(tmp_path, tests, "shop_test.yaml")
        return routes

    def test_passing_tests_are_reported_before_the_summary(self, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
        """check runs shop_test.yaml beside shop.yaml; passing tests add a line before the OK summary."""
        routes = self._app(tmp_path, "tests:\n  - {name: big, topic: t, value: {n: 2}, expect: [{route: r, "
                                     "enqueue: {}}]}\n")
        assert main(["check", "-c", str(routes)]) == defaults.EXIT_OK
        lines = capsys.readouterr().out.splitlines()
        assert lines[-3:-1] == [f"{tmp_path / 'shop_test.yaml'}: 1 route test passed",
                                f"{routes}: OK: 1 group, 1 route, 1 queue"]

    def test_a_failing_test_fails_the_check(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A route test that fails makes check exit 1 with the diff on stderr (so a reload is refused)."""
        routes = self._app(tmp_path, "tests:\n  - {name: small, topic: t, value: {n: 1}, expect: [{route: r, "
                                     "enqueue: {}}]}\n")
        assert main(["check", "-q", "-c", str(routes)]) == defaults.EXIT_CONFIG
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "FAIL small" in captured.err and "+  skip: filtered" in captured.err

    def test_an_invalid_tests_file_fails_the_check(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Problems in the tests file are listed like those of a routes file."""
        routes = self._app(tmp_path, "tests:\n  - {name: x}\n")
        assert main(["check", "-c", str(routes)]) == defaults.EXIT_CONFIG
        err = capsys.readouterr().err
        assert f"{tmp_path / 'shop_test.yaml'}:2:5: tests[0]: missing required key 'topic'" in err
