"""Route tests files: messages and what each route must decide about them (the format of docs/testing.md).

A routes file `shop.yaml` may have `shop_test.yaml` beside it; `karafkad
check`, `karafkad reload`, `karafkad start` and the daemon on SIGHUP run it
too (runner.run_tests_beside), so routes that no longer do what their tests
say are refused. This module reads and checks such a
file (every problem with its line, through the routes file's own schema
explainer); `runner` feeds its messages to the routes and compares.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from karafkad.config.schema_check import SchemaExplainer
from karafkad.config.yamlfile import Document, PathKey, load_file
from karafkad.errors import ConfigError, Problem
from karafkad.pipeline.outcomes import DEAD_LETTER_KINDS, SKIP_REASONS
from karafkad.testing.routes import Message, message

SUFFIX = "_test"
"""`routes.yaml` is tested by `routes_test.yaml` beside it."""

ENQUEUE_CHECKS = ("queue", "function", "params", "args", "meta", "options", "description")
"""What an `enqueue:` expectation may check; each is compared only when given."""

_STRING = {"type": "string", "minLength": 1}
_MESSAGE = {
    "value": {},
    "text": {"type": "string"},
    "base64": {"type": "string"},
    "hex": {"type": "string"},
    "tombstone": {"const": True},
    "subject": _STRING,
    "version": {"oneOf": [{"type": "integer", "minimum": 1}, {"const": "latest"}]},
    "message": _STRING,
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

_SOURCES = ("value", "text", "base64", "hex", "tombstone")
_ENCODING = ("subject", "version", "message")
"""Keys that encode a `value` with a Schema Registry subject's schema (into the Confluent wire format)."""
OUTCOMES = ("enqueue", "skip", "dead_letter")
"""What an expectation says a route did; exactly one per expectation."""


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
            given = [k for k in OUTCOMES if k in expectation]
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
        problems.append(document.problem(at, f"a message needs exactly one of value, text, base64, hex, "
                                             f"tombstone{found}"))
        return None
    source = sources[0]
    encoding = [k for k in _ENCODING if k in entry]
    if encoding and (source != "value" or "subject" not in entry):
        problems.append(document.problem((*at, encoding[0]), "subject (with version, message) encodes a `value` "
                                                             "with a registered schema: give value and subject"))
        return None
    raw: bytes | str | None = None
    if source == "text":
        raw = entry["text"]
    elif source == "base64":
        try:
            raw = base64.b64decode(entry["base64"], validate=True)
        except (binascii.Error, ValueError) as exc:
            problems.append(document.problem((*at, "base64"), f"not base64: {exc}"))
            return None
    elif source == "hex":
        try:
            raw = bytes.fromhex(entry["hex"])
        except ValueError as exc:
            problems.append(document.problem((*at, "hex"), f"not hex: {exc}"))
            return None
    options: dict[str, Any] = {"key": entry.get("key"), "headers": entry.get("headers"),
                               "timestamp": entry.get("timestamp", 0)}
    if source == "value":
        return message(entry["value"], subject=entry.get("subject"), version=entry.get("version", "latest"),
                       protobuf_message=entry.get("message"), **options)
    if source == "tombstone":
        return message(tombstone=True, **options)
    return message(raw=raw, **options)


def _schema_problems(document: Document) -> list[Problem]:
    if not isinstance(document.data, dict):
        return [document.problem((), "a route tests file is a mapping with a `tests` list")]
    return _explainer().problems(document)


@cache
def _explainer() -> SchemaExplainer:
    return SchemaExplainer(SCHEMA)
