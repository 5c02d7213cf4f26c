"""Turn JSON Schema errors into problems a person can act on: one explainer for every YAML file karafkad reads.

jsonschema's own messages are written for schema authors ("'valeu' was
unexpected", "[1] is not of type 'object'"). Here each error becomes a
Problem at the file position of the value, saying what is wrong in the
terms of the file: an unknown key with a "did you mean", a missing key, the
expected type, the allowed choices. A value of the wrong type is reported
once, for its type. Secrets are never quoted: a problem at a secret key
names only the type, and every secret of the document is masked in every
message. The routes file, route tests files and the producer's keyword
arguments all go through `SchemaExplainer`; the routes file adds a few
explanations of its own (`routes_schema.RoutesFileExplainer`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema

from karafkad.config.secrets import MASK, SECRET_KEYS, document_secrets, mask_url, redact
from karafkad.config.yamlfile import Document, PathKey
from karafkad.errors import Problem
from karafkad.text import close_match, plural


def every_key(schema: Mapping[str, Any]) -> frozenset[str]:
    """Every property name a schema declares, anywhere in it."""
    keys: set[str] = set()
    pending: list[Any] = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            keys.update(node.get("properties", {}))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return frozenset(keys)


class SchemaExplainer:
    """Checks documents against one JSON Schema and explains every error (secrets masked)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.validator = jsonschema.Draft202012Validator(schema)
        self.known = every_key(schema)

    def problems(self, document: Document) -> list[Problem]:
        """Every way the document breaks the schema, sorted by position, secrets masked."""
        errors = list(self.validator.iter_errors(document.data))
        # A value of the wrong type fails its other rules too (a list is "valid" for
        # `required`...): its type is the one thing to say about it.
        mistyped = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
        problems: list[Problem] = []
        for error in errors:
            if error.validator != "type" and tuple(error.absolute_path) in mistyped:
                continue
            substituted = tuple(error.absolute_path) in document.interpolated
            note = " (the value after substituting environment variables)" if substituted else ""
            note += _boolean_word(document, error)
            for found in self.explain(document, error):
                problems.append(dataclasses.replace(found, message=found.message + note))
        return without_secrets(document, sorted(set(problems)))

    # --- one error ---------------------------------------------------------------------------------

    def special(self, document: Document, error: jsonschema.ValidationError) -> list[Problem] | None:
        """A file's own explanation of an error, or None for the general one (overridden per file)."""
        return None

    def known_keys(self, path: PathKey, error: jsonschema.ValidationError) -> set[str]:
        """The keys allowed in the mapping at `path` (for "did you mean"): those the schema lists there."""
        return set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()

    def misspelt(self, key: str, instance: Mapping[str, Any]) -> bool:
        """True when `instance` has an unknown key that looks like `key` (a typo reported on its own)."""
        unknown = [str(k) for k in instance if k not in self.known]
        return close_match(key, unknown) is not None

    def explain(self, document: Document, error: jsonschema.ValidationError) -> Iterable[Problem]:
        """One jsonschema error -> problems a person can act on."""
        own = self.special(document, error)
        if own is not None:
            yield from own
            return
        path: PathKey = tuple(error.absolute_path)
        instance: Any = error.instance
        validator = error.validator
        expected: Any = error.validator_value
        if validator in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, dict):
            known = self.known_keys(path, error)
            for key in instance:
                if key not in known:
                    hint = close_match(str(key), known)
                    tip = f" (did you mean {hint!r}?)" if hint else f"; known keys: {', '.join(sorted(known))}"
                    yield document.problem((*path, key), f"unknown key {key!r}{tip}")
            return
        if validator == "required":
            for key in expected:
                if key not in instance and not self.misspelt(key, instance):
                    # (a misspelt key's "did you mean" already says it all)
                    yield document.problem(path, f"missing required key {key!r}")
            return
        if path and path[-1] in SECRET_KEYS:
            # Never quote a password, however short; its type, its length or its form is all there is to say.
            if validator == "minLength" and isinstance(instance, str):
                yield document.problem(path, f"is too short: at least {expected} characters (a secret: not shown)")
                return
            if validator == "pattern":
                what = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
                yield document.problem(path, "does not match the form it must have (a secret: not shown)"
                                       + (f": {what}" if what else ""))
                return
            got = "null" if instance is None else f"{kind(instance)} ({MASK})"
            yield document.problem(path, f"expected {type_name(expected) if validator == 'type' else 'a string'}, "
                                         f"got {got}")
            return
        yield from self._general(document, error, path, instance)

    def _general(self, document: Document, error: jsonschema.ValidationError, path: PathKey,
                 instance: Any) -> Iterable[Problem]:
        validator = error.validator
        expected: Any = error.validator_value
        if validator == "type":
            got = "null" if instance is None else f"{kind(instance)} {short(instance)}"
            yield document.problem(path, f"expected {type_name(expected)}, got {got}")
        elif validator == "enum":
            choices = ", ".join(repr(c) for c in expected)
            yield document.problem(path, f"{short(instance)} is not one of {choices}")
        elif validator == "const":
            yield document.problem(path, f"must be {expected!r}, got {short(instance)}")
        elif validator == "pattern":
            what = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
            yield document.problem(path, f"{short(instance)} is not valid here" + (f": {what}" if what else ""))
        elif validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            relation = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[validator]
            yield document.problem(path, f"{short(instance)} is out of range: must be {relation} {expected}")
        elif validator in ("minItems", "minProperties"):
            yield document.problem(path, "must not be empty")
        elif validator in ("minLength", "maxLength") and isinstance(instance, str):
            length = plural(len(instance), "character")
            yield document.problem(path, "must not be empty" if validator == "minLength" and expected == 1 else
                                   f"is {length} long; the {validator[:3]}imum is {expected}")
        elif validator == "oneOf" and error.context:
            # A value that can take several shapes: the complaints of the shapes its type matches, every one (a
            # mapping's unknown key and its out-of-range value both), and of a value inside it only its type.
            shapes = {e.relative_schema_path[0] for e in error.context}
            shapes -= {e.relative_schema_path[0] for e in error.context
                       if e.validator == "type" and not e.relative_path}
            fitting = [e for e in error.context if e.relative_schema_path[0] in shapes]
            mistyped = {tuple(e.relative_path) for e in fitting if e.validator == "type"}
            fitting = [e for e in fitting if e.validator == "type" or tuple(e.relative_path) not in mistyped]
            if fitting:
                for found in fitting:
                    yield from self.explain(document, found)
                return
            kinds = sorted({type_name(e.validator_value) for e in error.context if e.validator == "type"})
            yield document.problem(path, f"expected {' or '.join(kinds) or 'another value'}, got {kind(instance)} "
                                         f"{short(instance)}")
        else:
            yield document.problem(path, error.message)


def _boolean_word(document: Document, error: jsonschema.ValidationError) -> str:
    """A note when the value in error is a boolean the file wrote as yes/no/on/off (YAML 1.1 reads those as
    booleans): the person most likely meant the word."""
    path = tuple(error.absolute_path)
    word = document.booleans.get(path)
    if word is None or not isinstance(error.instance, bool):
        return ""
    quoted = "'...'" if path and path[-1] in SECRET_KEYS else f"'{word}'"
    return f" (yes/no/on/off are YAML booleans; quote it: {quoted})"


def without_secrets(document: Document, problems: Iterable[Problem]) -> list[Problem]:
    """The problems, with every secret of the document masked in their messages.

    (A problem at a secret key never quotes its value in the first place;
    this also catches a secret repeated elsewhere in the file.)
    """
    secrets = document_secrets(document.data)
    out = []
    for problem in problems:
        message = redact(problem.message, secrets)
        out.append(dataclasses.replace(problem, message=message) if message != problem.message else problem)
    return out


def type_name(value: Any) -> str:
    """A JSON Schema type in words: "a mapping", "an integer or null"."""
    if isinstance(value, list):
        return " or ".join(type_name(v) for v in value)
    return {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
            "number": "a number", "boolean": "true or false", "null": "null"}.get(str(value), str(value))


def kind(value: Any) -> str:
    """What a YAML value is, in words: mapping, list, string, ..."""
    if value is None:
        return "null"
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer",
            float: "number"}.get(type(value), type(value).__name__)


def short(value: Any) -> str:
    """A value quoted in a problem: JSON or repr, at most 60 characters, URL passwords masked."""
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    text = mask_url(text)  # before clipping, which could cut a URL's password off from its `@`
    return text if len(text) <= 60 else text[:57] + "..."
