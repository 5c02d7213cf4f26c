"""The routes file's JSON Schema (routes.schema.json beside this module) and its own explanations.

The schema is the single statement of which keys a routes file may hold;
docs/routes-reference.md is generated from it (scripts/gen-docs). The few
errors the general explainer would word poorly (`topic` and `topics`
together, a Redis `url` beside host/port, a bad group id, an unknown route
option) are explained here.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from karafkad.config.schema_check import SchemaExplainer, kind, short
from karafkad.config.yamlfile import Document, PathKey
from karafkad.errors import Problem

REDIS_URL_PARTS = ("host", "port", "db", "ssl")
"""Redis settings that a `url` already decides (the client ignores them beside a url)."""


@cache
def routes_schema() -> dict[str, Any]:
    """The JSON Schema of the routes file (also at config/routes.schema.json in the repository)."""
    text = resources.files("karafkad.config").joinpath("routes.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


class RoutesFileExplainer(SchemaExplainer):
    """The general explainer, plus the routes file's own wording for a few errors."""

    def known_keys(self, path: PathKey, error: jsonschema.ValidationError) -> set[str]:
        known = super().known_keys(path, error)
        if error.validator == "unevaluatedProperties":
            # Routes and `defaults` take the route options, declared apart from them.
            defs = routes_schema()["$defs"]
            known |= set(defs["routeOptions"]["properties"])
            if len(path) == 4 and path[0] == "groups" and path[2] == "routes":
                known |= set(defs["route"]["properties"])
        return known

    def special(self, document: Document, error: jsonschema.ValidationError) -> list[Problem] | None:
        path: PathKey = tuple(error.absolute_path)
        instance: Any = error.instance
        if error.validator == "oneOf" and isinstance(instance, dict) and (
                "topic" in instance or "topics" in instance or "handler" in instance):
            if "topic" in instance and "topics" in instance:
                return [document.problem(path, "a route has `topic` or `topics`, not both")]
            if "topic" not in instance and "topics" not in instance and not self.misspelt("topic", instance):
                return [document.problem(path, "missing required key 'topic' (or 'topics')")]
            return []
        if error.validator == "not" and path and path[-1] == "redis" and isinstance(instance, dict):
            # A `redis` section (the top-level one or a group's) with two ways of saying where Redis is.
            schema_path = list(error.schema_path)
            given = schema_path[schema_path.index("dependentSchemas") + 1]
            if given == "sentinel":
                return [document.problem((*path, key), f"`sentinel` finds the primary, so `{key}` would be "
                                                       "ignored; give either `sentinel` or url/host/port")
                        for key in ("url", "host", "port") if key in instance]
            return [document.problem((*path, key), f"`url` already says where Redis is, so `{key}` would be "
                                                   f"ignored; give either `url` or host/port/db/ssl")
                    for key in REDIS_URL_PARTS if key in instance]
        if error.validator == "propertyNames" or "propertyNames" in error.relative_schema_path:
            # The instance is the key itself: point at it.
            return [document.problem((*path, str(instance)), f"{short(instance)} is not a valid Kafka group id: "
                                     "letters, digits, `.`, `_` and `-`, at most 249 characters")]
        return None


@cache
def explainer() -> RoutesFileExplainer:
    return RoutesFileExplainer(routes_schema())


def every_schema_key() -> frozenset[str]:
    """Every key the routes file knows, anywhere."""
    return explainer().known


def routes_file_problems(document: Document) -> list[Problem]:
    """Every way the document breaks the routes-file schema, as readable problems (secrets masked)."""
    if not isinstance(document.data, dict):
        what = kind(document.data)
        return [document.problem((), "the file must be a YAML mapping with a `groups` section, "
                                     f"not {'an' if what[0] in 'aeiou' else 'a'} {what}")]
    return explainer().problems(document)
