"""testing/suite.py and runner.py: route tests in YAML, their problems with lines, their diffs, and
`karafkad check` running them."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest
from tables import make_table

from karafkad import defaults
from karafkad.cli import main
from karafkad.cli.route_tests import report
from karafkad.errors import ConfigError
from karafkad.testing import Routes
from karafkad.testing.runner import run_route_tests
from karafkad.testing.suite import find_route_tests, load_route_tests, route_tests_path

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "routes.yaml"
EXAMPLE_TESTS = ROOT / "config" / "routes_test.yaml"

WRONG = f"""\
routes: {EXAMPLE}
tests:
  - name: a big order is only processed
    topic: orders
    value: {{id: 2, customer: {{email: bob@example.com}}, total: 2500, currency: USD}}
    expect:
      - route: orders
        enqueue: {{queue: orders, options: {{timeout: 60}}}}
      - route: big-orders
        skip: filtered
"""
"""A deliberately wrong route test of the example: big orders also raise an alert."""

WRONG_DIFF = """\
--- expected
+++ actual
@@ -1,7 +1,9 @@
 - route: orders
   enqueue:
     queue: orders
     options:
       timeout: 60
 - route: big-orders
-  skip: filtered
+  enqueue:
+    queue: alerts
+    function: orders.alert_big_order"""
"""Its diff: the whole of both sides, the difference marked."""


pytestmark = pytest.mark.usefixtures("isolated_imports")


def _write(tmp_path: Path, text: str, name: str = "routes_test.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_route_tests(path, environ={})
    return [f"{p.line}: {p.message}" for p in caught.value.problems]


class TestFinding:
    def test_the_tests_of_a_routes_file_are_named_after_it(self, tmp_path: Path) -> None:
        """routes.yaml -> routes_test.yaml and shop.yaml -> shop_test.yaml, beside it; none when absent."""
        assert route_tests_path(Path("/etc/karafkad/routes.yaml")) == Path("/etc/karafkad/routes_test.yaml")
        assert route_tests_path(Path("/etc/karafkad/shop.yaml")) == Path("/etc/karafkad/shop_test.yaml")
        assert find_route_tests(EXAMPLE) == EXAMPLE_TESTS
        assert find_route_tests(tmp_path / "routes.yaml") is None

    def test_the_routes_file_defaults_to_the_name_without_test(self, tmp_path: Path) -> None:
        """Without `routes:`, shop_test.yaml tests shop.yaml beside it."""
        path = _write(tmp_path, "tests: []\n", "shop_test.yaml")
        assert load_route_tests(path, environ={}).routes == tmp_path / "shop.yaml"


class TestLoading:
    def test_the_example_loads(self) -> None:
        """config/routes_test.yaml is a valid route tests file for config/routes.yaml."""
        suite = load_route_tests(EXAMPLE_TESTS, environ={})
        assert suite.routes == EXAMPLE
        assert len(suite.tests) >= 10
        assert suite.tests[0].line == 9

    def test_every_problem_is_listed_with_its_line(self, tmp_path: Path) -> None:
        """Unknown keys (with a suggestion), missing keys, wrong values: all at once, each with its line."""
        path = _write(tmp_path, """\
            tests:
              - name: one
                topic: t
                valeu: {a: 1}
                expect:
                  - {route: r, skip: filterd}
              - topic: t
                value: 1
                expect: []
            """)
        assert _problems(path) == [
            "2: a message needs exactly one of value, text, base64, hex, tombstone",
            "4: unknown key 'valeu' (did you mean 'value'?)",
            "6: 'filterd' is not one of 'tombstone', 'filtered', 'vetoed', 'expired', 'error:decode', "
            "'error:oversize', 'error:schema', 'error:filter', 'error:hook', 'error:headers', 'error:serialize', "
            "'error:schedule'",
            "7: missing required key 'name'",
        ]

    def test_a_message_has_one_source_and_an_expectation_one_outcome(self, tmp_path: Path) -> None:
        """value and text together, enqueue and skip together, `topic` beside a skip: each named."""
        path = _write(tmp_path, """\
            tests:
              - name: one
                topic: t
                value: 1
                text: "1"
                expect:
                  - {route: r, enqueue: {}, skip: filtered}
                  - {route: r, skip: filtered, topic: dlq}
                  - {route: r}
            """)
        assert _problems(path) == [
            "2: a message needs exactly one of value, text, base64, hex, tombstone (found value, text)",
            "7: each expectation needs exactly one of enqueue, skip, dead_letter (found enqueue, skip)",
            "8: `topic` (the dead-letter topic) goes with dead_letter",
            "9: each expectation needs exactly one of enqueue, skip, dead_letter",
        ]

    def test_bad_base64_and_a_file_that_is_not_a_mapping(self, tmp_path: Path) -> None:
        """base64 that does not decode is a problem at its line; a list at the top is refused."""
        path = _write(tmp_path, """\
            tests:
              - name: one
                topic: t
                base64: "not base64!"
                expect: []
            """)
        assert _problems(path)[0].startswith("4: not base64")
        assert _problems(_write(tmp_path, "- a\n", "list_test.yaml")) == [
            "1: a route tests file is a mapping with a `tests` list"]


class TestRunning:
    def test_the_example_tests_pass(self) -> None:
        """Every test of config/routes_test.yaml passes on config/routes.yaml."""
        suite = load_route_tests(EXAMPLE_TESTS, environ={})
        results = run_route_tests(suite, Routes(EXAMPLE, environ={}))
        assert [(r.test.name, r.diff, r.notes) for r in results if not r.passed] == []

    def test_a_wrong_expectation_fails_with_a_diff_of_expected_and_actual(self, tmp_path: Path) -> None:
        """The diff shows the expectation (-) against what the route did (+), in the expectation's terms."""
        suite = load_route_tests(_write(tmp_path, WRONG), environ={})
        [result] = run_route_tests(suite)
        assert not result.passed
        assert "\n".join(result.diff) == WRONG_DIFF

    def test_fields_not_expected_are_not_compared(self, tmp_path: Path) -> None:
        """Only the job fields an expectation names are checked; options compare only the keys given."""
        table = make_table(tmp_path, {"g": {"routes": [{"name": "r", "topic": "t", "handler": "h.handle",
                                                         "queue": "q", "job": {"timeout": 5}}]}})
        path = _write(tmp_path, """\
            tests:
              - name: fields
                topic: t
                value: {n: 1}
                expect:
                  - {route: r, enqueue: {queue: q, params: {n: 1}, options: {timeout: 5}}}
              - name: nothing asked
                topic: t
                value: {n: 1}
                expect:
                  - {route: r, enqueue: }
            """)
        assert all(r.passed for r in run_route_tests(load_route_tests(path, environ={}), table))

    def test_error_is_a_part_of_the_reason(self, tmp_path: Path) -> None:
        """`error:` passes when it is contained in the reason; otherwise the diff shows the whole reason."""
        table = make_table(tmp_path, {"g": {"routes": [{"name": "r", "topic": "t", "handler": "h.handle",
                                                         "dead_letter": "dlq"}]}})
        path = _write(tmp_path, """\
            tests:
              - {name: contained, topic: t, text: "{", expect: [{route: r, dead_letter: decode, error: invalid}]}
              - {name: not contained, topic: t, text: "{", expect: [{route: r, dead_letter: decode, error: nope}]}
            """)
        first, second = run_route_tests(load_route_tests(path, environ={}), table)
        assert first.passed
        assert second.diff[-2] == "-  error: nope"
        assert second.diff[-1].startswith("+  error: 'invalid JSON: ")

    def test_a_missing_and_an_unexpected_outcome_both_show(self, tmp_path: Path) -> None:
        """A route the test does not mention shows as + lines; an unknown route name is a note and - lines."""
        table = make_table(tmp_path, {"g": {"routes": [{"name": "r", "topic": "t", "handler": "h.handle"}]}})
        path = _write(tmp_path, """\
            tests:
              - {name: one, topic: t, value: 1, expect: [{route: nope, skip: filtered}]}
            """)
        [result] = run_route_tests(load_route_tests(path, environ={}), table)
        assert result.notes == ["no route 'nope' consumes topic 't' (its routes: r)"]
        assert sorted(result.diff[3:]) == sorted(["-- route: nope", "-  skip: filtered", "+- route: r",
                                                  "+  enqueue:", "+    queue: default",
                                                  f"+    function: {table.routes[0].spec.handler}"])

    def test_several_messages_are_compared_in_offset_order(self, tmp_path: Path) -> None:
        """With `messages:`, a route's jobs are matched in offset order; its skips after its jobs."""
        table = make_table(tmp_path, {"g": {"routes": [{"name": "r", "topic": "t", "handler": "h.handle",
                                                         "filter": "params.n != 2"}]}})
        path = _write(tmp_path, """\
            tests:
              - name: three
                topic: t
                messages: [{value: {n: 1}}, {value: {n: 2}}, {value: {n: 3}}]
                expect:
                  - {route: r, skip: filtered}
                  - {route: r, enqueue: {params: {n: 1}}}
                  - {route: r, enqueue: {params: {n: 3}}}
            """)
        assert run_route_tests(load_route_tests(path, environ={}), table)[0].passed

    def test_a_topic_without_routes_fails_with_a_note(self, tmp_path: Path) -> None:
        """Feeding a topic no route consumes fails the test, saying which topics have routes."""
        table = make_table(tmp_path, {"g": {"routes": [{"topic": "t", "handler": "h.handle"}]}})
        path = _write(tmp_path, "tests:\n  - {name: x, topic: nope, value: 1, expect: []}\n")
        [result] = run_route_tests(load_route_tests(path, environ={}), table)
        assert result.notes == ["no route consumes topic 'nope'; topics with routes: t"]

    def test_the_same_route_name_in_two_groups_is_told_apart(self, tmp_path: Path) -> None:
        """Route names repeat across groups: `group:` picks one, and the diff shows groups for such names."""
        route = {"name": "r", "topic": "t", "handler": "h.handle"}
        table = make_table(tmp_path, {"a": {"routes": [route]}, "b": {"routes": [{**route, "filter": "false"}]}})
        path = _write(tmp_path, """\
            tests:
              - name: both groups
                topic: t
                value: 1
                expect:
                  - {route: r, group: b, skip: filtered}
                  - {route: r, group: a, enqueue: {}}
            """)
        assert run_route_tests(load_route_tests(path, environ={}), table)[0].passed


class TestReport:
    def test_failures_go_to_stderr_with_file_line_and_an_indented_diff(self, tmp_path: Path) -> None:
        """FILE:LINE: FAIL name, the diff indented, then a count of passed and failed."""
        suite = load_route_tests(_write(tmp_path, WRONG), environ={})
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
    def _app(self, tmp_path: Path, tests: str) -> Path:
        (tmp_path / "handlers").mkdir()
        (tmp_path / "handlers" / "kd_rt_app.py").write_text("def f(params):\n    return params\n")
        routes = tmp_path / "shop.yaml"
        routes.write_text("groups:\n  g:\n    routes:\n"
                          "      - {name: r, topic: t, handler: kd_rt_app.f, filter: 'params.n > 1', on_error: skip}\n")
        _write(tmp_path, tests, "shop_test.yaml")
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
