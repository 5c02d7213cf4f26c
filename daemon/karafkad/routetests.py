"""Route tests: a YAML file of messages and what each route must decide about them, run by `karafkad test`.

A routes file `shop.yaml` may have `shop_test.yaml` beside it; `karafkad
check` runs it too, so a reload (`ExecReload=karafkad check`) refuses routes
that no longer do what their tests say. Messages go through karafkad.testing
(the daemon's own RouteTable and Pipeline). A failed test prints the
expected and the actual decisions as a diff. The format is in
docs/testing.md.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import jsonschema
import yaml

from karafkad.errors import ConfigError, Problem
from karafkad.routing import RouteTable
from karafkad.testing import Message, Outcome, Routes, message
from karafkad.yamlfile import Document, PathKey, load_file

SUFFIX = "_test"
"""`routes.yaml` is tested by `routes_test.yaml` beside it."""

DEAD_LETTER_KINDS = ("decode", "oversize", "schema", "filter", "hook", "tombstone", "headers", "serialize")
"""What `dead_letter:` may say (the karafkad.error_kind header)."""

SKIP_REASONS = ("tombstone", "filtered", "vetoed", *(f"error:{k}" for k in DEAD_LETTER_KINDS if k != "tombstone"))
"""What `skip:` may say (the reasons of karafkad_messages_skipped_total): a rejection skipped with
`on_error: skip` is `error:` and its dead-letter kind."""

ENQUEUE_CHECKS = ("queue", "function", "params", "args", "meta", "options", "description")
"""What an `enqueue:` expectation may check; each is compared only when given."""

_STRING = {"type": "string", "minLength": 1}
_MESSAGE = {
    "value": {},
    "text": {"type": "string"},
    "base64": {"type": "string"},
    "tombstone": {"const": True},
    "key": {"type": "string"},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "timestamp": {"type": "integer", "minimum": 0},
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["tests"],
    "properties": {
        "routes": _STRING,
        "tests": {"type": "array", "items": {"$ref": "#/$defs/test"}},
    },
    "$defs": {
        "test": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "topic", "expect"],
            "properties": {
                "name": _STRING,
                "topic": _STRING,
                "partition": {"type": "integer", "minimum": 0},
                "messages": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False, "properties": _MESSAGE}},
                **_MESSAGE,
                "expect": {"type": "array", "items": {"$ref": "#/$defs/expectation"}},
            },
        },
        "expectation": {
            "type": "object",
            "additionalProperties": False,
            "required": ["route"],
            "properties": {
                "route": _STRING,
                "group": _STRING,
                "enqueue": {"type": ["object", "null"], "additionalProperties": False,
                            "properties": {**{k: {} for k in ENQUEUE_CHECKS}, "queue": _STRING,
                                           "function": _STRING, "args": {"type": "array"},
                                           "options": {"type": "object"}, "description": {"type": "string"}}},
                "skip": {"enum": list(SKIP_REASONS)},
                "dead_letter": {"enum": list(DEAD_LETTER_KINDS)},
                "topic": _STRING,
                "error": {"type": "string"},
            },
        },
    },
}
"""The shape of a route tests file (beyond it: one message source per message, one outcome per expectation)."""

_SOURCES = ("value", "text", "base64", "tombstone")
_OUTCOMES = ("enqueue", "skip", "dead_letter")


@dataclass(frozen=True)
class RouteTest:
    """One test: messages fed to a topic as one poll, and the decisions expected of its routes."""

    name: str
    line: int
    topic: str
    partition: int
    messages: tuple[Message, ...]
    expect: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class RouteTestFile:
    path: Path
    routes: Path
    """The routes file the tests are for (the `routes:` key, else the file named without `_test`)."""
    tests: tuple[RouteTest, ...]


@dataclass(frozen=True)
class RouteTestResult:
    test: RouteTest
    diff: list[str] = field(default_factory=list)
    """Unified diff of the expected (-) and actual (+) decisions; empty when the test passed."""
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.diff and not self.notes


def route_tests_path(config: Path) -> Path:
    """Where the route tests of a routes file live: `routes.yaml` -> `routes_test.yaml`."""
    return config.with_name(config.stem + SUFFIX + (config.suffix or ".yaml"))


def find_route_tests(config: Path) -> Path | None:
    """The route tests file beside `config`, if there is one."""
    path = route_tests_path(config)
    return path if path.is_file() else None


def load_route_tests(path: Path, environ: Mapping[str, str] | None = None) -> RouteTestFile:
    """Read and check a route tests file; ConfigError lists every problem with its line."""
    document = load_file(path, os.environ if environ is None else environ)
    problems = _schema_problems(document)
    data = document.data if isinstance(document.data, dict) else {}
    items = _list(data.get("tests"))
    tests = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        at: PathKey = ("tests", index)
        several = isinstance(item.get("messages"), list)
        if several and any(k in item for k in _MESSAGE):
            problems.append(document.problem(at, "give the message keys (value, key, ...) or `messages`, not both"))
        entries = item["messages"] if several else [item]
        messages = [_message(document, (*at, "messages", n) if several else at, entry, problems)
                    for n, entry in enumerate(entries) if isinstance(entry, dict)]
        expect = _list(item.get("expect"))
        for number, expectation in enumerate(expect):
            if not isinstance(expectation, dict):
                continue
            given = [k for k in _OUTCOMES if k in expectation]
            if len(given) != 1:
                problems.append(document.problem((*at, "expect", number),
                                                 "each expectation needs exactly one of enqueue, skip, dead_letter"
                                                 + (f" (found {', '.join(given)})" if given else "")))
            elif "topic" in expectation and given != ["dead_letter"]:
                problems.append(document.problem((*at, "expect", number, "topic"),
                                                 "`topic` (the dead-letter topic) goes with dead_letter"))
        built = [m for m in messages if m is not None]
        tests.append(RouteTest(str(item.get("name")), document.where(at)[0], str(item.get("topic")),
                               int(item.get("partition", 0)), tuple(built), tuple(expect)))
    if problems:
        raise ConfigError(sorted(set(problems)))
    default_routes = path.with_name(path.name.replace(SUFFIX + ".", ".", 1))
    routes = (path.parent / data["routes"]) if "routes" in data else default_routes
    return RouteTestFile(path, routes, tuple(tests))


def _list(value: Any) -> list[Any]:
    """`value` if it is a list (a wrong type is already a schema problem), else nothing."""
    return value if isinstance(value, list) else []


def _message(document: Document, at: PathKey, entry: Mapping[str, Any], problems: list[Problem]) -> Message | None:
    sources = [k for k in _SOURCES if k in entry]
    if len(sources) != 1:
        found = f" (found {', '.join(sources)})" if sources else ""
        problems.append(document.problem(at, f"a message needs exactly one of value, text, base64, tombstone{found}"))
        return None
    source = sources[0]
    raw: bytes | str | None = None
    if source == "text":
        raw = entry["text"]
    elif source == "base64":
        try:
            raw = base64.b64decode(entry["base64"], validate=True)
        except (binascii.Error, ValueError) as exc:
            problems.append(document.problem((*at, "base64"), f"not base64: {exc}"))
            return None
    options: dict[str, Any] = {"key": entry.get("key"), "headers": entry.get("headers"),
                               "timestamp": entry.get("timestamp", 0)}
    if source == "value":
        return message(entry["value"], **options)
    if source == "tombstone":
        return message(tombstone=True, **options)
    return message(raw=raw, **options)


def _schema_problems(document: Document) -> list[Problem]:
    if not isinstance(document.data, dict):
        return [document.problem((), "a route tests file is a mapping with a `tests` list")]
    problems = []
    for error in jsonschema.Draft202012Validator(SCHEMA).iter_errors(document.data):
        path: PathKey = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = sorted(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
            for key in error.instance:
                if key not in known:
                    hint = difflib.get_close_matches(str(key), known, n=1)
                    tip = f" (did you mean {hint[0]!r}?)" if hint else f"; known keys: {', '.join(known)}"
                    problems.append(document.problem((*path, key), f"unknown key {key!r}{tip}"))
        elif error.validator == "required":
            missing = [k for k in error.validator_value if k not in error.instance]
            problems.extend(document.problem(path, f"missing required key {k!r}") for k in missing)
        elif error.validator == "enum":
            choices = ", ".join(str(c) for c in error.validator_value)
            problems.append(document.problem(path, f"{error.instance!r} is not one of {choices}"))
        else:
            problems.append(document.problem(path, error.message))
    return sorted(set(problems))


# --- running ----------------------------------------------------------------


def run_route_tests(suite: RouteTestFile, routes: Routes | RouteTable | None = None) -> list[RouteTestResult]:
    """Run every test of `suite` against `routes` (default: the routes file the suite names)."""
    if not isinstance(routes, Routes):
        routes = Routes(routes if routes is not None else suite.routes)
    return [run_route_test(test, routes) for test in suite.tests]


def run_route_test(test: RouteTest, routes: Routes) -> RouteTestResult:
    routes.reset()  # each test starts at offset 0: job ids and meta do not depend on the tests before it
    try:
        outcome = routes.feed_batch(test.topic, test.messages, partition=test.partition)
    except LookupError as exc:
        return RouteTestResult(test, notes=[str(exc)])
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
        for kind in _OUTCOMES:
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


# --- reporting --------------------------------------------------------------


def report(suite: RouteTestFile, results: Sequence[RouteTestResult], *, verbose: bool = False,
           out: TextIO | None = None, err: TextIO | None = None) -> bool:
    """Print failures (with their diff) on `err` and a summary on `out`; True when every test passed."""
    out = out or sys.stdout
    err = err or sys.stderr
    failed = [r for r in results if not r.passed]
    for result in results:
        test = result.test
        if result.passed:
            if verbose:
                print(f"{suite.path}:{test.line}: PASS {test.name}", file=out)
            continue
        print(f"{suite.path}:{test.line}: FAIL {test.name}", file=err)
        for note in result.notes:
            print(f"    {note}", file=err)
        for line in result.diff:
            print(f"    {line}", file=err)
    passed = len(results) - len(failed)
    summary = f"{suite.path}: {passed} route test{'s' * (passed != 1)} passed"
    if failed:
        print(f"{summary}, {len(failed)} failed", file=err)
    else:
        print(summary, file=out)
    return not failed


def check_route_tests(path: Path, table: RouteTable, *, quiet: bool = False) -> bool:
    """For `karafkad check`: run the tests beside a routes file against its freshly compiled table."""
    from karafkad.inspection import print_problems

    try:
        suite = load_route_tests(path)
    except ConfigError as exc:
        print_problems(exc)
        return False
    results = run_route_tests(suite, table)
    if quiet and all(r.passed for r in results):
        return True
    return report(suite, results)


def run_tests_command(files: Sequence[Path], config: Path | None, *, verbose: bool = False) -> int:
    """`karafkad test`: run each file (default: the one beside `config`); the exit status."""
    from karafkad import defaults
    from karafkad.inspection import print_problems

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
