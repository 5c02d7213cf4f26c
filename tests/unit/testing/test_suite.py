"""testing/suite.py: route tests files in YAML, found beside their routes file, read with every problem at its line
(running them is tests/unit/testing/test_runner.py's, printing them tests/unit/cli/test_route_tests.py's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from route_test_files import EXAMPLE, EXAMPLE_TESTS, write_tests

from karafkad.errors import ConfigError
from karafkad.testing.suite import find_route_tests, load_route_tests, route_tests_path

pytestmark = pytest.mark.usefixtures("isolated_imports")


def _problems(path: Path) -> list[str]:
    """`LINE: message` of each problem of the route tests file at `path`."""
    with pytest.raises(ConfigError) as caught:
        load_route_tests(path, environ={})
    return [f"{p.line}: {p.message}" for p in caught.value.problems]


class TestFinding:
    """route_tests_path and find_route_tests: a routes file's tests are beside it, named after it."""

    def test_the_tests_of_a_routes_file_are_named_after_it(self, tmp_path: Path) -> None:
        """routes.yaml -> routes_test.yaml and shop.yaml -> shop_test.yaml, beside it; none when absent."""
        assert route_tests_path(Path("/etc/karafkad/routes.yaml")) == Path("/etc/karafkad/routes_test.yaml")
        assert route_tests_path(Path("/etc/karafkad/shop.yaml")) == Path("/etc/karafkad/shop_test.yaml")
        assert find_route_tests(EXAMPLE) == EXAMPLE_TESTS
        assert find_route_tests(tmp_path / "routes.yaml") is None

    def test_the_routes_file_defaults_to_the_name_without_test(self, tmp_path: Path) -> None:
        """Without `routes:`, shop_test.yaml tests shop.yaml beside it."""
        path = write_tests(tmp_path, "tests: []\n", "shop_test.yaml")
        assert load_route_tests(path, environ={}).routes == tmp_path / "shop.yaml"


class TestLoading:
    """load_route_tests: a route tests file read and checked, every problem at its line."""

    def test_the_example_loads(self) -> None:
        """config/routes_test.yaml is a valid route tests file for config/routes.yaml."""
        suite = load_route_tests(EXAMPLE_TESTS, environ={})
        assert suite.routes == EXAMPLE
        assert len(suite.tests) >= 10
        assert suite.tests[0].line == 9

    def test_every_problem_is_listed_with_its_line(self, tmp_path: Path) -> None:
        """Unknown keys (with a suggestion), missing keys, wrong values: all at once, each with its line."""
        path = write_tests(tmp_path, """\
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
            "2: a message needs exactly one of value, text, base64, tombstone",
            "4: unknown key 'valeu' (did you mean 'value'?)",
            "6: 'filterd' is not one of 'tombstone', 'filtered', 'vetoed', 'expired', 'error:decode', "
            "'error:oversize', 'error:schema', 'error:filter', 'error:hook', 'error:headers', 'error:serialize', "
            "'error:schedule'",
            "7: missing required key 'name'",
        ]

    def test_a_message_has_one_source_and_an_expectation_one_outcome(self, tmp_path: Path) -> None:
        """value and text together, enqueue and skip together, `topic` beside a skip: each named."""
        path = write_tests(tmp_path, """\
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
            "2: a message needs exactly one of value, text, base64, tombstone (found value, text)",
            "7: each expectation needs exactly one of enqueue, skip, dead_letter (found enqueue, skip)",
            "8: `topic` (the dead-letter topic) goes with dead_letter",
            "9: each expectation needs exactly one of enqueue, skip, dead_letter",
        ]

    def test_bad_base64_and_a_file_that_is_not_a_mapping(self, tmp_path: Path) -> None:
        """base64 that does not decode is a problem at its line; a list at the top is refused."""
        path = write_tests(tmp_path, """\
            tests:
              - name: one
                topic: t
                base64: "not base64!"
                expect: []
            """)
        assert _problems(path)[0].startswith("4: not base64")
        assert _problems(write_tests(tmp_path, "- a\n", "list_test.yaml")) == [
            "1: a route tests file is a mapping with a `tests` list"]
