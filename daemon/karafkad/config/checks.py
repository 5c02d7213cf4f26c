"""Rules of the routes file that span several values, which JSON Schema cannot say.

Run on the typed settings (`loading` calls `cross_checks`), each problem at
the place in the file where the offending value was written, in a route or
in `defaults`.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Mapping
from typing import Any

from karafkad.config.settings import Config, KafkaSettings, RouteSpec
from karafkad.config.yamlfile import Document, PathKey
from karafkad.errors import Problem

DESCRIPTION_FIELDS = ("topic", "partition", "offset", "key")
"""The placeholders a job description may use; each is filled in per message."""


def cross_checks(config: Config) -> list[Problem]:
    """Rules that span several values, which JSON Schema cannot say."""
    doc = config.document
    problems = []
    serializers: dict[str, tuple[str, RouteSpec]] = {}
    names: dict[tuple[str, str], RouteSpec] = {}
    for route in config.routes:
        if route.on_error == "dead_letter" and not route.dead_letter:
            problems.append(doc.problem(_origin(doc, route, "on_error"),
                                        "on_error is dead_letter but the route has no dead_letter topic"))
        if route.tombstone == "dead_letter" and not route.dead_letter:
            problems.append(doc.problem(_origin(doc, route, "tombstone"),
                                        "tombstone is dead_letter but the route has no dead_letter topic"))
        if route.dead_letter and route.dead_letter in route.topics:
            problems.append(doc.problem(_origin(doc, route, "dead_letter"),
                                        "the dead-letter topic is also a topic of this route (a loop)"))
        if route.job.result_ttl > 0 and route.job.result_ttl >= config.redis.dedupe_window:
            problems.append(doc.problem(_origin(doc, route, "job", "result_ttl"),
                                        f"result_ttl {route.job.result_ttl} must be below redis.dedupe_window "
                                        f"({config.redis.dedupe_window}), or a redelivered message could run twice"))
        if route.job.description is not None:
            problems.extend(_description_problems(doc, route))
        if route.job.delay is not None and route.job.at is not None:
            problems.append(doc.problem(_origin(doc, route, "job", "at"),
                                        "a job is due after `delay` or at `at`, not both"))
        if route.job.at is not None and route.batch:
            problems.append(doc.problem(_origin(doc, route, "job", "at"),
                                        "`at` takes the time from one message, and a batch route makes one job of "
                                        "many; use `delay` here"))
        seen = serializers.setdefault(route.queue, (route.job.serializer, route))
        if seen[0] != route.job.serializer:
            problems.append(doc.problem(_origin(doc, route, "job", "serializer"),
                                        f"queue {route.queue!r} gets {route.job.serializer} jobs here but "
                                        f"{seen[0]} jobs from route {seen[1].name!r}; an RQ worker reads one "
                                        "serializer"))
        key = (route.group, route.name)
        if key in names:
            problems.append(doc.problem((*route.path, "name"),
                                        f"route name {route.name!r} is used twice in group {route.group!r}; "
                                        "give one a `name:`"))
        names[key] = route
    problems.extend(_dead_letter_cycles(config))
    for group in config.groups:
        heartbeat = group.heartbeat_interval_ms
        if heartbeat is not None and heartbeat >= group.session_timeout_ms:
            problems.append(doc.problem(("groups", group.id, "heartbeat_interval_ms"),
                                        f"must be below session_timeout_ms ({group.session_timeout_ms}); "
                                        "a third of it is usual"))
    low, high = config.daemon.queue_low_watermark, config.daemon.queue_high_watermark
    if low is not None and high is not None and low >= high:
        problems.append(doc.problem(("daemon", "queue_low_watermark"),
                                    f"must be below queue_high_watermark ({high})"))
    problems.extend(kafka_security_problems(doc, config.kafka))
    for index, path in enumerate(config.plugins.paths):
        if not path.is_dir():
            at: PathKey = ("plugins", "paths", index) if "plugins" in doc.data else ()
            problems.append(doc.problem(at, f"plugin folder {path} does not exist"))
    # A mistake in `defaults` shows up once per route; say it once.
    return list(dict.fromkeys(problems))



def _origin(doc: Document, route: RouteSpec, *keys: str) -> PathKey:
    """Where a route's setting was written: in the route itself, else in `defaults`."""
    for base in (route.path, ("defaults",)):
        value: Any = doc.data
        for part in (*base, *keys):
            found = part in value if isinstance(value, dict) else (
                isinstance(value, list) and isinstance(part, int) and part < len(value))
            if not found:
                break
            value = value[part]
        else:
            return (*base, *keys)
    return (*route.path, *keys)


def _description_problems(doc: Document, route: RouteSpec) -> list[Problem]:
    """A description is filled in with str.format for every job: allow bare placeholders only.

    `{topic.__class__}` or `{key[0]}` would reach into Python objects, `{offset!r}`
    and `{offset:>999999999}` change or blow up the text; none of them is needed.
    """
    text = route.job.description or ""
    at = _origin(doc, route, "job", "description")
    allowed = ", ".join("{" + f + "}" for f in DESCRIPTION_FIELDS)
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        return [doc.problem(at, f"not a valid description: {exc} (write {{{{ and }}}} for literal braces)")]
    problems = []
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        column = text.find(written) + 1
        if name not in DESCRIPTION_FIELDS:
            if not name:
                why = "a placeholder needs a name"
            elif any(c in name for c in ".[") or name.startswith("_"):
                why = "attribute and index lookups are not allowed"
            else:
                hint = difflib.get_close_matches(name, DESCRIPTION_FIELDS, n=1)
                why = f"unknown placeholder{f' (did you mean {{{hint[0]}}}?)' if hint else ''}"
        elif conversion:
            why = "conversions (!r, !s, !a) are not allowed"
        elif spec:
            why = "format specifications (:...) are not allowed"
        else:
            continue
        problems.append(doc.problem_in_value(at, column, f"{written}: {why}; a description may use {allowed}"))
    return problems


def _dead_letter_cycles(config: Config) -> list[Problem]:
    """Dead letters that would come back: a route's dead-letter topic leads, through other routes'
    dead-letter topics, to one of its own topics, so a message every route rejects circles forever.
    (A dead-letter topic that is the route's own topic is reported on its own.)"""
    leads: dict[str, set[str]] = {}
    for route in config.routes:
        if route.dead_letter:
            for topic in route.topics:
                leads.setdefault(topic, set()).add(route.dead_letter)
    problems = []
    for route in config.routes:
        if not route.dead_letter or route.dead_letter in route.topics:
            continue
        trail = _trail(leads, route.dead_letter, set(route.topics))
        if trail:
            loop = " -> ".join([trail[-1], *trail])
            problems.append(config.document.problem(
                _origin(config.document, route, "dead_letter"),
                f"dead letters go round in a loop ({loop}): another route consumes {route.dead_letter!r} "
                "and dead-letters back here"))
    return problems


def _trail(leads: Mapping[str, set[str]], start: str, targets: set[str]) -> list[str]:
    """A path of dead-letter hops from `start` to one of `targets`, or [] when there is none."""
    seen = {start}
    paths = [[start]]
    while paths:
        path = paths.pop(0)
        if path[-1] in targets:
            return path
        for nxt in sorted(leads.get(path[-1], ())):
            if nxt not in seen:
                seen.add(nxt)
                paths.append([*path, nxt])
    return []


def kafka_security_problems(doc: Document, kafka: KafkaSettings) -> list[Problem]:
    """SASL and SSL settings that kafka-python would refuse, or silently not use."""
    security = kafka.security
    protocol = str(security.get("security_protocol", "PLAINTEXT"))
    problems = []
    if protocol.startswith("SASL"):
        if "sasl_mechanism" not in security:
            problems.append(doc.problem(("kafka", "security_protocol"), f"{protocol} needs `sasl_mechanism`"))
        for key in ("sasl_plain_username", "sasl_plain_password"):
            if key not in security:
                problems.append(doc.problem(("kafka", "security_protocol"),
                                            f"{protocol} needs `{key}` (PLAIN and SCRAM both use it)"))
    for key in security:
        if key.startswith("sasl_") and not protocol.startswith("SASL"):
            problems.append(doc.problem(("kafka", key), f"has no effect with security_protocol {protocol}; "
                                                        "set security_protocol to SASL_PLAINTEXT or SASL_SSL"))
        if key.startswith("ssl_") and not protocol.endswith("SSL"):
            problems.append(doc.problem(("kafka", key), f"has no effect with security_protocol {protocol}; "
                                                        "set security_protocol to SSL or SASL_SSL"))
    return problems
