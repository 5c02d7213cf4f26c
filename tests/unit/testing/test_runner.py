"""testing/runner.py: the route tests beside a routes file, as `check`, `start` and a reload run them."""

from __future__ import annotations

from pathlib import Path

import pytest
from route_test_files import EXAMPLE, EXAMPLE_TESTS, WRONG, WRONG_DIFF, write_tests
from tables import make_table

from karafkad.routes.table import load_routes
from karafkad.testing import Routes
from karafkad.testing.runner import route_test_failures, run_route_tests, run_tests_beside
from karafkad.testing.suite import load_route_tests

pytestmark = pytest.mark.usefixtures("isolated_imports")

ROUTES = ("groups:\n  g:\n    routes:\n"
          "      - {name: r, topic: t, handler: kd_runner_app.f, filter: 'params.n > 1', on_error: skip}\n")
PASSING = "tests:\n  - {name: big, topic: t, value: {n: 2}, expect: [{route: r, enqueue: {}}]}\n"
FAILING = PASSING + "  - {name: small, topic: t, value: {n: 1}, expect: [{route: r, enqueue: {}}]}\n"


def _app(tmp_path: Path, tests: str | None) -> Path:
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "kd_runner_app.py").write_text("def f(params):\n    return params\n")
    routes = tmp_path / "shop.yaml"
    routes.write_text(ROUTES)
    if tests is not None:
        (tmp_path / "shop_test.yaml").write_text(tests)
    return routes


class TestRunTestsBeside:
    """run_tests_beside and route_test_failures: the route tests beside a routes file, as start and a reload run
    them."""

    def test_no_tests_beside_the_file_is_nothing_to_run(self, tmp_path: Path) -> None:
        """Without a routes_test.yaml beside it, nothing runs and nothing is refused."""
        routes = _app(tmp_path, None)
        table = load_routes(routes, environ={})
        assert run_tests_beside(routes, table) is None
        assert route_test_failures(routes, table) == []

    def test_passing_tests_refuse_nothing(self, tmp_path: Path) -> None:
        """Tests that pass refuse nothing."""
        routes = _app(tmp_path, PASSING)
        assert route_test_failures(routes, load_routes(routes, environ={})) == []

    def test_each_failing_test_is_one_line_with_its_file_line_and_name(self, tmp_path: Path) -> None:
        """What `start` prints and a rejected reload logs: the failing test named, where it is, how to see why."""
        routes = _app(tmp_path, FAILING)
        [line] = route_test_failures(routes, load_routes(routes, environ={}))
        assert line.startswith(f"{tmp_path / 'shop_test.yaml'}:3: route test 'small' failed: ")
        assert f"`karafkad check -c {routes}` shows the difference" in line

    def test_a_note_is_the_reason_given(self, tmp_path: Path) -> None:
        """A test that fails with a note (a topic no route consumes) gives the note as its reason."""
        routes = _app(tmp_path, "tests:\n  - {name: elsewhere, topic: nope, value: {n: 2}, expect: []}\n")
        [line] = route_test_failures(routes, load_routes(routes, environ={}))
        assert "route test 'elsewhere' failed: no route consumes topic 'nope'" in line

    def test_an_invalid_tests_file_is_its_problems(self, tmp_path: Path) -> None:
        """As `karafkad check` refuses it: each problem of the tests file with its line."""
        routes = _app(tmp_path, "tests:\n  - {name: x}\n")
        problems = route_test_failures(routes, load_routes(routes, environ={}))
        assert f"{tmp_path / 'shop_test.yaml'}:2:5: tests[0]: missing required key 'topic'" in problems

    def test_a_hook_that_exits_is_a_failure_not_the_end_of_the_daemon(self, tmp_path: Path) -> None:
        """A before_enqueue hook calling sys.exit() in a route test: in a reload that would end the daemon's main
        thread; it is one line refusing the file instead."""
        routes = _app(tmp_path, PASSING)
        (tmp_path / "handlers" / "kd_runner_app.py").write_text(
            "import sys\n\ndef f(params):\n    return params\n\ndef leave(params):\n    sys.exit(3)\n")
        routes.write_text(ROUTES.replace("on_error: skip}", "on_error: skip, before_enqueue: kd_runner_app.leave}"))
        [line] = route_test_failures(routes, load_routes(routes, environ={}))
        assert line == f"the route tests beside {routes} could not run: SystemExit: 3"

    def test_between_is_called_after_each_test(self, tmp_path: Path) -> None:
        """The reload's watchdog ping, so that many or slow tests do not look like a hung daemon to systemd."""
        routes = _app(tmp_path, FAILING)
        pings: list[int] = []
        route_test_failures(routes, load_routes(routes, environ={}), lambda: pings.append(1))
        assert len(pings) == 2


class TestRunning:
    """run_route_tests: each test's messages through the routes, compared with its expectations."""

    def test_the_example_tests_pass(self) -> None:
        """Every test of config/routes_test.yaml passes on config/routes.yaml."""
        suite = load_route_tests(EXAMPLE_TESTS, environ={})
        results = run_route_tests(suite, Routes(EXAMPLE, environ={}))
        assert [(r.test.name, r.diff, r.notes) for r in results if not r.passed] == []

    def test_a_wrong_expectation_fails_with_a_diff_of_expected_and_actual(self, tmp_path: Path) -> None:
        """The diff shows the expectation (-) against what the route did (+), in the expectation's terms."""
        suite = load_route_tests(write_tests(tmp_path, WRONG), environ={})
        [result] = run_route_tests(suite)
        assert not result.passed
        assert "\n".join(result.diff) == WRONG_DIFF

    def test_fields_not_expected_are_not_compared(self, tmp_path: Path) -> None:
        """Only the job fields an expectation names are checked; options compare only the keys given."""
        table = make_table(tmp_path, {"g": {"routes": [{"name": "r", "topic": "t", "handler": "h.handle",
                                                         "queue": "q", "job": {"timeout": 5}}]}})
        path = write_tests(tmp_path, """\
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
        path = write_tests(tmp_path, """\
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
        path = write_tests(tmp_path, """\
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
        path = write_tests(tmp_path, """\
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
        path = write_tests(tmp_path, "tests:\n  - {name: x, topic: nope, value: 1, expect: []}\n")
        [result] = run_route_tests(load_route_tests(path, environ={}), table)
        assert result.notes == ["no route consumes topic 'nope'; topics with routes: t"]

    def test_the_same_route_name_in_two_groups_is_told_apart(self, tmp_path: Path) -> None:
        """Route names repeat across groups: `group:` picks one, and the diff shows groups for such names."""
        route = {"name": "r", "topic": "t", "handler": "h.handle"}
        table = make_table(tmp_path, {"a": {"routes": [route]}, "b": {"routes": [{**route, "filter": "false"}]}})
        path = write_tests(tmp_path, """\
            tests:
              - name: both groups
                topic: t
                value: 1
                expect:
                  - {route: r, group: b, skip: filtered}
                  - {route: r, group: a, enqueue: {}}
            """)
        assert run_route_tests(load_route_tests(path, environ={}), table)[0].passed
