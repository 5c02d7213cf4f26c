"""Run route tests: feed each test's messages to the routes, compare what each route decided with the file.

Messages go through karafkad.testing.Routes (the daemon's own RouteTable and
Pipeline). A failed test carries the expected and the actual decisions as a
unified diff, in the YAML of the tests file.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from karafkad.errors import ConfigError, RegistryUnavailable
from karafkad.routes.table import RouteTable
from karafkad.testing.routes import Outcome, Routes
from karafkad.testing.suite import OUTCOMES, RouteTest, RouteTestFile, find_route_tests, load_route_tests


@dataclass(frozen=True)
class RouteTestResult:
    test: RouteTest
    diff: list[str] = field(default_factory=list)
    """Unified diff of the expected (-) and actual (+) decisions; empty when the test passed."""
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    """Why the test could not run (the schema registry its framed messages need cannot be asked): not a failure,
    as a registry outage is never the routes' fault (the daemon pauses for it, it does not refuse routes)."""

    @property
    def passed(self) -> bool:
        return not self.diff and not self.notes


def run_route_tests(suite: RouteTestFile, routes: Routes | RouteTable | None = None,
                    between: Callable[[], None] | None = None) -> list[RouteTestResult]:
    """Run every test of `suite` against `routes` (default: the routes file the suite names); `between` is
    called after each test (the daemon's watchdog ping, while a reload runs them)."""
    if not isinstance(routes, Routes):
        routes = Routes(routes if routes is not None else suite.routes)
    results = []
    for test in suite.tests:
        results.append(run_route_test(test, routes))
        if between is not None:
            between()
    return results


def run_tests_beside(config: Path, table: RouteTable, between: Callable[[], None] | None = None,
                     ) -> tuple[RouteTestFile, list[RouteTestResult]] | None:
    """Run the route tests beside a routes file (`routes_test.yaml`) against its freshly compiled `table`.

    What `karafkad check`, `karafkad start` and a SIGHUP reload run, this one
    way. None when the file has no tests beside it; ConfigError (every
    problem with its line) when the tests file itself is invalid. The tests
    feed messages through the pipeline (decoding, schemas, filters and the
    before_enqueue hooks, which must be side-effect free); no handler runs and
    nothing touches Kafka or Redis.
    """
    path = find_route_tests(config)
    if path is None:
        return None
    suite = load_route_tests(path)
    return suite, run_route_tests(suite, table, between)


def route_test_failures(config: Path, table: RouteTable, between: Callable[[], None] | None = None) -> list[str]:
    """Why the route tests beside `config` refuse `table` (for `start` and a reload): one line per failed
    test, or per problem of an invalid tests file; empty when they pass or there are none. `between` is
    called after each test.

    Never raises for what the tests or their hooks do: a daemon reloading must
    keep its running routes, not crash, whatever a new file's tests do.
    """
    try:
        ran = run_tests_beside(config, table, between)
    except ConfigError as exc:
        return [str(problem) for problem in exc.problems]
    except (Exception, SystemExit) as exc:  # a hook's sys.exit() too: it would end the daemon's main thread
        return [f"the route tests beside {config} could not run: {type(exc).__name__}: {exc}"]
    if ran is None:
        return []
    suite, results = ran
    return [f"{suite.path}:{r.test.line}: route test {r.test.name!r} failed: "
            + (r.notes[0] if r.notes else "what its routes decided is not what it expects")
            + f" (`karafkad check -c {config}` shows the difference)"
            for r in results if not r.passed]


def run_route_test(test: RouteTest, routes: Routes) -> RouteTestResult:
    routes.reset()  # each test starts at offset 0: job ids and meta do not depend on the tests before it
    try:
        outcome = routes.feed_batch(test.topic, test.messages, partition=test.partition)
    except LookupError as exc:
        return RouteTestResult(test, notes=[str(exc)])
    except RegistryUnavailable as exc:
        return RouteTestResult(test, skipped=str(exc))
    except Exception as exc:  # the pipeline turns bad input into outcomes; anything else fails this test only
        return RouteTestResult(test, notes=[f"feeding the message raised {type(exc).__name__}: {exc}"])
    order = _route_order(routes.table, test.topic)
    ambiguous = _ambiguous_names(order)
    notes = []
    expected: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for item in test.expect:
        key = _resolve(item, order)
        if key is None:
            on_topic = ", ".join(dict.fromkeys(name for _, name in order))
            group = f" in group {item['group']!r}" if "group" in item else ""
            notes.append(f"no route {item['route']!r}{group} consumes topic {test.topic!r} (its routes: {on_topic})")
            key = (str(item.get("group", "?")), str(item["route"]))
        expected.setdefault(key, []).append(item)
    actual = _actual(outcome)
    keys = [k for k in order if k in expected or k in actual] + [k for k in expected if k not in order]
    want: list[dict[str, Any]] = []
    got: list[dict[str, Any]] = []
    for key in keys:
        show_group = key[1] in ambiguous
        for kind in OUTCOMES:
            # Per route and outcome, in order: a route's jobs come in offset order, whatever order the file uses.
            exp = [item for item in expected.get(key, []) if kind in item]
            act = [item for item in actual.get(key, []) if kind in item]
            want.extend(_render_expected(item, key, show_group) for item in exp)
            got.extend(_render_actual(item, key, exp[i] if i < len(exp) else None, show_group)
                       for i, item in enumerate(act))
    if want == got:
        return RouteTestResult(test, notes=notes)
    diff = list(difflib.unified_diff(_yaml(want), _yaml(got), "expected", "actual", n=10_000, lineterm=""))
    return RouteTestResult(test, diff=diff, notes=notes)


def _route_order(table: RouteTable, topic: str) -> list[tuple[str, str]]:
    return [(group.id, route.name) for group in table.groups.values() for route in group.by_topic.get(topic, ())]


def _ambiguous_names(order: Sequence[tuple[str, str]]) -> set[str]:
    names = [name for _, name in order]
    return {name for name in names if names.count(name) > 1}


def _resolve(item: Mapping[str, Any], order: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    matches = [(g, r) for g, r in order if r == item["route"] and item.get("group", g) == g]
    return matches[0] if matches else None


def _actual(outcome: Outcome) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(group, route) -> what it did: its jobs and dead letters in offset order, then its skips."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for job in sorted(outcome.jobs, key=lambda j: j.offset):
        out.setdefault((job.group, job.route), []).append({
            "enqueue": {"queue": job.queue, "function": job.function, "params": job.params, "args": job.args,
                        "meta": job.meta, "options": job.options, "description": job.description}})
    for letter in sorted(outcome.dead_letters, key=lambda d: d.offset):
        for name in letter.routes:
            out.setdefault((letter.group, name), []).append(
                {"dead_letter": letter.kind, "topic": letter.topic, "error": letter.reason})
    for skip in outcome.skipped:
        out.setdefault((skip.group, skip.route), []).append({"skip": skip.reason, "error": skip.detail})
    return out


def _render_expected(item: Mapping[str, Any], key: tuple[str, str], show_group: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"route": key[1]}
    if show_group or "group" in item:
        out["group"] = key[0]
    for name in ("enqueue", "skip", "dead_letter", "topic", "error"):
        if name in item:
            out[name] = dict(item[name] or {}) if name == "enqueue" else item[name]
    return out


def _render_actual(item: dict[str, Any], key: tuple[str, str], hint: Mapping[str, Any] | None,
                   show_group: bool) -> dict[str, Any]:
    """What a route did, showing the fields its expectation (`hint`, of the same outcome) asks about;
    without one, the fields that say what happened."""
    out: dict[str, Any] = {"route": key[1]}
    if show_group or (hint is not None and "group" in hint):
        out["group"] = key[0]
    if "enqueue" in item:
        job = item["enqueue"]
        asked = (hint.get("enqueue") or {}) if hint is not None else {"queue": None, "function": None}
        shown: dict[str, Any] = {}
        for name, value in asked.items():
            if name == "options" and isinstance(value, dict):
                shown[name] = {k: job["options"].get(k, "(no such option)") for k in value}
            else:
                shown[name] = job[name]
        out["enqueue"] = shown
        return out
    outcome = "dead_letter" if "dead_letter" in item else "skip"
    out[outcome] = item[outcome]
    if hint is not None and "topic" in hint:
        out["topic"] = item["topic"]
    wanted = hint.get("error") if hint is not None else None
    if wanted is not None:
        # `error:` is a part of the reason: shown as written when it is in there.
        out["error"] = wanted if wanted in item["error"] else item["error"]
    elif hint is None and item["error"]:
        out["error"] = item["error"]
    return out


def _yaml(items: list[dict[str, Any]]) -> list[str]:
    if not items:
        return ["[]  # nothing"]
    text = yaml.safe_dump(items, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    return text.splitlines()
