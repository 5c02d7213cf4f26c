"""testing/runner.py: the route tests beside a routes file, as `check`, `start` and a reload run them."""

from __future__ import annotations

from pathlib import Path

import pytest

from karafkad.routes.table import load_routes
from karafkad.testing.runner import route_test_failures, run_tests_beside

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


def test_no_tests_beside_the_file_is_nothing_to_run(tmp_path: Path) -> None:
    routes = _app(tmp_path, None)
    table = load_routes(routes, environ={})
    assert run_tests_beside(routes, table) is None
    assert route_test_failures(routes, table) == []


def test_passing_tests_refuse_nothing(tmp_path: Path) -> None:
    routes = _app(tmp_path, PASSING)
    assert route_test_failures(routes, load_routes(routes, environ={})) == []


def test_each_failing_test_is_one_line_with_its_file_line_and_name(tmp_path: Path) -> None:
    """What `start` prints and a rejected reload logs: the failing test named, where it is, how to see why."""
    routes = _app(tmp_path, FAILING)
    [line] = route_test_failures(routes, load_routes(routes, environ={}))
    assert line.startswith(f"{tmp_path / 'shop_test.yaml'}:3: route test 'small' failed: ")
    assert f"`karafkad check -c {routes}` shows the difference" in line


def test_a_note_is_the_reason_given(tmp_path: Path) -> None:
    routes = _app(tmp_path, "tests:\n  - {name: elsewhere, topic: nope, value: {n: 2}, expect: []}\n")
    [line] = route_test_failures(routes, load_routes(routes, environ={}))
    assert "route test 'elsewhere' failed: no route consumes topic 'nope'" in line


def test_an_invalid_tests_file_is_its_problems(tmp_path: Path) -> None:
    """As `karafkad check` refuses it: each problem of the tests file with its line."""
    routes = _app(tmp_path, "tests:\n  - {name: x}\n")
    problems = route_test_failures(routes, load_routes(routes, environ={}))
    assert f"{tmp_path / 'shop_test.yaml'}:2:5: tests[0]: missing required key 'topic'" in problems


def test_a_hook_that_exits_is_a_failure_not_the_end_of_the_daemon(tmp_path: Path) -> None:
    """A before_enqueue hook calling sys.exit() in a route test: in a reload that would end the daemon's main
    thread; it is one line refusing the file instead."""
    routes = _app(tmp_path, PASSING)
    (tmp_path / "handlers" / "kd_runner_app.py").write_text(
        "import sys\n\ndef f(params):\n    return params\n\ndef leave(params):\n    sys.exit(3)\n")
    routes.write_text(ROUTES.replace("on_error: skip}", "on_error: skip, before_enqueue: kd_runner_app.leave}"))
    [line] = route_test_failures(routes, load_routes(routes, environ={}))
    assert line == f"the route tests beside {routes} could not run: SystemExit: 3"


def test_between_is_called_after_each_test(tmp_path: Path) -> None:
    """The reload's watchdog ping, so that many or slow tests do not look like a hung daemon to systemd."""
    routes = _app(tmp_path, FAILING)
    pings: list[int] = []
    route_test_failures(routes, load_routes(routes, environ={}), lambda: pings.append(1))
    assert len(pings) == 2


def test_a_registry_that_cannot_be_asked_skips_its_tests_and_refuses_nothing(tmp_path: Path) -> None:
    """A framed message whose schema cannot be fetched (nobody listens): the test is skipped with the reason, not
    failed, so that a registry outage never refuses a routes file (the daemon pauses for it instead)."""
    routes = _app(tmp_path, "tests:\n  - {name: framed, topic: t, hex: '00000000010e', "
                            "expect: [{route: r, enqueue: {}}]}\n")
    routes.write_text("schema_registry: {url: 'http://127.0.0.1:9'}\n"
                      + ROUTES.replace("on_error: skip}", "on_error: skip, decode: avro}"))
    table = load_routes(routes, environ={})
    ran = run_tests_beside(routes, table)
    assert ran is not None
    (result,) = ran[1]
    assert result.passed and result.skipped is not None
    assert "schema registry http://127.0.0.1:9: connection refused" in result.skipped
    assert route_test_failures(routes, table) == []
