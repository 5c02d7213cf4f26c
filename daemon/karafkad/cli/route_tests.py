"""`karafkad test`, and the route tests `karafkad check` runs: print failures as diffs and a summary."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from karafkad import defaults
from karafkad.cli.output import print_problems
from karafkad.errors import ConfigError
from karafkad.routes.table import RouteTable
from karafkad.testing.routes import Routes
from karafkad.testing.runner import RouteTestResult, run_route_tests, run_tests_beside
from karafkad.testing.suite import RouteTestFile, find_route_tests, load_route_tests, route_tests_path
from karafkad.text import plural


def report(suite: RouteTestFile, results: Sequence[RouteTestResult], *, verbose: bool = False,
           out: TextIO | None = None, err: TextIO | None = None) -> bool:
    """Print failures (with their diff) on `err` and a summary on `out`; True when every test passed."""
    out = out or sys.stdout
    err = err or sys.stderr
    failed = [r for r in results if not r.passed]
    for result in results:
        test = result.test
        if result.skipped is not None:
            print(f"{suite.path}:{test.line}: SKIPPED {test.name}: {result.skipped} (warning)", file=err)
            continue
        if result.passed:
            if verbose:
                print(f"{suite.path}:{test.line}: PASS {test.name}", file=out)
            continue
        print(f"{suite.path}:{test.line}: FAIL {test.name}", file=err)
        for note in result.notes:
            print(f"    {note}", file=err)
        for line in result.diff:
            print(f"    {line}", file=err)
    skipped = sum(1 for r in results if r.skipped is not None)
    passed = len(results) - len(failed) - skipped
    summary = f"{suite.path}: {plural(passed, 'route test')} passed" + (f", {skipped} skipped" if skipped else "")
    if failed:
        print(f"{summary}, {len(failed)} failed", file=err)
    else:
        print(summary, file=out)
    return not failed


def check_route_tests(config: Path, table: RouteTable, *, quiet: bool = False) -> bool:
    """For `karafkad check`: run the tests beside a routes file against its freshly compiled table
    (the run `start` and a reload make too: testing.runner.run_tests_beside); True when they pass or there
    are none."""
    try:
        ran = run_tests_beside(config, table)
    except ConfigError as exc:
        print_problems(exc)
        return False
    if ran is None:
        return True
    suite, results = ran
    if quiet and all(r.passed for r in results):
        return True
    return report(suite, results)


def run_tests_command(files: Sequence[Path], config: Path | None, *, verbose: bool = False) -> int:
    """`karafkad test`: run each file (default: the one beside `config`); the exit status."""
    if not files:
        assert config is not None
        found = find_route_tests(config)
        if found is None:
            print(f"karafkad test: no route tests beside {config} (expected {route_tests_path(config)})",
                  file=sys.stderr)
            return defaults.EXIT_CONFIG
        files = [found]
    ok = True
    for path in files:
        try:
            suite = load_route_tests(path)
            routes = Routes(config or suite.routes)
        except ConfigError as exc:
            print_problems(exc)
            ok = False
            continue
        ok = report(suite, run_route_tests(suite, routes), verbose=verbose) and ok
    return defaults.EXIT_OK if ok else defaults.EXIT_CONFIG
