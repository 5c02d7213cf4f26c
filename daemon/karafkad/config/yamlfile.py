"""Read a YAML file safely, remembering the line and column of every value.

PyYAML's safe loader already refuses `!!python/...` tags, but it expands
alias bombs, accepts duplicate keys silently and forgets where values came
from. Here the file is composed into nodes and turned into plain data by hand,
so every value keeps its position (for error messages that name a line),
every expansion is counted, and `${VAR}` / `${VAR:default}` are substituted
on the scalars (so a substituted value is typed like one written in place).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from karafkad import defaults
from karafkad.config.yaml_hints import indentation_hint, quote_hint
from karafkad.errors import ConfigError, Problem

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PathKey = tuple[str | int, ...]
"""Where a value sits in the document: ("groups", "billing", "routes", 2, "filter")."""

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {
    _TAG + "str": SafeConstructor.construct_yaml_str,
    _TAG + "int": SafeConstructor.construct_yaml_int,
    _TAG + "float": SafeConstructor.construct_yaml_float,
    _TAG + "bool": SafeConstructor.construct_yaml_bool,
    _TAG + "null": SafeConstructor.construct_yaml_null,
    # A date-like plain scalar stays the text it was written as: routes files
    # have no dates, and JSON Schema sees strings.
    _TAG + "timestamp": SafeConstructor.construct_yaml_str,
}
_SEQ_TAG = _TAG + "seq"
_MAP_TAG = _TAG + "map"
_MERGE_TAG = _TAG + "merge"

_ENV = re.compile(r"\$(\$?)\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass
class Document:
    """The plain data of a YAML file, and where each value was written."""

    file: str
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    interpolated: set[PathKey] = field(default_factory=set)
    verbatim: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    """Line and column of the first character of each string value written on
    one line exactly as it reads (plain, or quoted without escapes), so an
    error inside the value (a filter's column) can point at the character."""
    booleans: dict[PathKey, str] = field(default_factory=dict)
    """Booleans written as YAML 1.1 words (yes, no, on, off): what was written, for an error that should
    say the word was read as a boolean."""

    def where(self, path: PathKey) -> tuple[int, int]:
        """Line and column of `path`, or of its nearest ancestor that has one."""
        probe = tuple(path)
        while probe:
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))

    def problem(self, path: PathKey, message: str) -> Problem:
        line, column = self.where(path)
        return Problem(self.file, line, column, dotted(path), message)

    def problem_in_value(self, path: PathKey, column: int, message: str) -> Problem:
        """A problem at the 1-based `column` of the string value at `path`.

        Points at that character when the value is written verbatim on one
        line, else at the value's key.
        """
        start = self.verbatim.get(path)
        if start is None or column < 1:
            return self.problem(path, message)
        return Problem(self.file, start[0], start[1] + column - 1, dotted(path), message)


def dotted(path: PathKey) -> str:
    """("groups", "billing", "routes", 2, "filter") -> "groups.billing.routes[2].filter"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def load_file(path: Path, environ: Mapping[str, str], *, max_bytes: int = defaults.ROUTES_FILE_MAX_BYTES,
              secret_keys: Collection[str] = ()) -> Document:
    """Read and parse `path`; raise ConfigError naming the file and line on any problem.

    Values under `secret_keys` are never quoted in a problem.
    """
    name = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_big(name, size, max_bytes)
        raw = path.read_bytes()
    except OSError as exc:
        raise _fail(name, 0, 0, f"cannot read the file: {exc.strerror or exc}") from None
    return load_bytes(raw, name, environ, max_bytes=max_bytes, secret_keys=secret_keys)


def load_bytes(raw: bytes, name: str, environ: Mapping[str, str], *,
               max_bytes: int = defaults.ROUTES_FILE_MAX_BYTES,
               expected: str = "a mapping with a `groups` section", secret_keys: Collection[str] = ()) -> Document:
    """Parse YAML bytes that claim to come from `name` (used in messages)."""
    if len(raw) > max_bytes:
        raise _too_big(name, len(raw), max_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _fail(name, line, column,
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); is this a binary file?") from None
    text = text.removeprefix("\ufeff")
    bad = _CONTROL.search(text)
    if bad is not None:
        # Checked here, not left to the parser: the message can say which
        # character and where, and no parser ever sees a NUL.
        line, column = _line_column(text, bad.start())
        raise _fail(name, line, column, f"control character {_char_name(bad.group())} is not allowed in YAML; "
                                        "is this a binary file?")
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise _fail(name, 1, 1, f"file is empty; expected {expected}")
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(name, text, exc) from None
    except yaml.reader.ReaderError as exc:
        line, column = _line_column(text, exc.position)
        raise _fail(name, line, column, f"character {_char_name(chr(exc.character))} is not allowed in YAML") \
            from None
    except yaml.YAMLError as exc:
        raise _fail(name, 1, 1, f"YAML: {exc}") from None
    except RecursionError:
        raise _fail(name, 1, 1, "YAML nesting is too deep") from None
    if root is None:
        raise _fail(name, 1, 1, f"file is empty; expected {expected}")
    builder = _Builder(name, text, environ, frozenset(secret_keys))
    data = builder.build(root, (), 0)
    if builder.problems:
        raise ConfigError(builder.problems)
    return Document(name, data, builder.positions, builder.interpolated, builder.verbatim, builder.booleans)


# C0 controls other than tab, newline and carriage return, DEL, C1 controls:
# YAML forbids them, and in a text file they mean the file is not text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")


def _plain(node: ScalarNode) -> bool:
    """An unquoted scalar (PyYAML's parser says style None, its C parser says "")."""
    return not node.style


def _char_name(char: str) -> str:
    names = {"\x00": " (NUL)", "\x1b": " (ESC)", "\x7f": " (DEL)"}
    return f"U+{ord(char):04X}{names.get(char, '')}"


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


# PyYAML also breaks lines at a lone CR, NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR; editors and
# people mostly do not (and a problem's line must be one they can find).
_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


class _Lines:
    """Line and column (1-based) of a PyYAML mark, counting only \n as a line break."""

    def __init__(self, text: str) -> None:
        self.text = text
        # Only a text with the other breaks needs its own count (kept cheap for every other file).
        self.newlines = ([i for i, c in enumerate(text) if c == "\n"]
                         if any(b in text for b in _OTHER_BREAKS) else None)

    def __call__(self, mark: Any) -> tuple[int, int]:
        if self.newlines is None:
            return mark.line + 1, mark.column + 1
        index = min(mark.index, len(self.text))
        line = bisect.bisect_left(self.newlines, index)
        start = self.newlines[line - 1] + 1 if line else 0
        return line + 1, index - start + 1


def _syntax_error(name: str, text: str, exc: yaml.MarkedYAMLError) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    lines = _Lines(text)
    line, column = lines(mark) if mark else (1, 1)
    context_line = lines(exc.context_mark)[0] if exc.context_mark else 0
    problem, context = exc.problem or "", exc.context or ""
    if "duplicate anchor" in context and exc.context_mark:
        what = f"duplicate anchor (first defined at line {context_line})"
    elif problem and context and exc.context_mark and context_line != line:
        what = f"{problem} ({context} started at line {context_line})"
    else:
        what = problem or context or "invalid YAML"
    if mark is not None and text[mark.index: mark.index + 1] == "\t":
        what += " (a tab: YAML is indented with spaces only)"
    elif mark is not None:
        what += quote_hint(text, mark.index) or indentation_hint(text, line, problem)
    return _fail(name, line, column, f"YAML syntax: {what}")


def _too_big(name: str, size: int, limit: int) -> ConfigError:
    return _fail(name, 1, 1, f"file is {size / 1e6:.1f} MB; a routes file may be at most {limit // 1024} KiB")


def _fail(name: str, line: int, column: int, message: str) -> ConfigError:
    return ConfigError([Problem(name, line, column, "", message)])


class _Builder:
    """Turns composed nodes into dicts, lists and scalars, with positions."""

    def __init__(self, name: str, text: str, environ: Mapping[str, str],
                 secret_keys: frozenset[str] = frozenset()) -> None:
        self.name = name
        self.secret_keys = secret_keys
        self.lines = _Lines(text)
        self.text = text
        self.environ = environ
        self.positions: dict[PathKey, tuple[int, int]] = {}
        self.interpolated: set[PathKey] = set()
        self.verbatim: dict[PathKey, tuple[int, int]] = {}
        self.booleans: dict[PathKey, str] = {}
        self.problems: list[Problem] = []
        self.count = 0
        self.constructor = SafeConstructor()
        self.resolver = yaml.resolver.Resolver()

    def problem(self, node: Node, path: PathKey, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.name, *self.lines(mark), dotted(path), message))

    def build(self, node: Node, path: PathKey, depth: int) -> Any:
        self.count += 1
        if self.count > defaults.YAML_MAX_NODES:
            # Raised, not collected: an alias bomb must stop the walk at once.
            raise _fail(self.name, *self.lines(node.start_mark),
                        f"more than {defaults.YAML_MAX_NODES} values after expanding anchors and aliases "
                        "(an alias bomb?)")
        if depth > defaults.YAML_MAX_DEPTH:
            raise _fail(self.name, *self.lines(node.start_mark),
                        f"nested more than {defaults.YAML_MAX_DEPTH} levels deep (a recursive alias?)")
        self.positions.setdefault(path, self.lines(node.start_mark))
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                self.problem(node, path, f"YAML tag {node.tag} is not allowed")
                return None
            return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        self.problem(node, path, "unsupported YAML node")
        return None

    def mapping(self, node: MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            self.problem(node, path, f"YAML tag {node.tag} is not allowed")
            return {}
        # Duplicates are looked for among the keys written here; a key that
        # `<<: *anchor` brings in is meant to be overridden by one written here.
        first_seen: dict[str, int] = {}
        duplicates: set[int] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE_TAG:
                key = key_node.value
                if key in first_seen:
                    self.problem(key_node, (*path, key), f"duplicate key {key!r} (first at line {first_seen[key]})")
                    duplicates.add(id(key_node))
                else:
                    first_seen[key] = self.lines(key_node.start_mark)[0]
        try:
            self.constructor.flatten_mapping(node)  # merged keys first, then the keys written here
        except yaml.MarkedYAMLError as exc:
            self.problem(node, path, f"merge key: {exc.problem}")
            return {}
        pairs = [(k, v) for k, v in node.value if id(k) not in duplicates]
        winner = {k.value: i for i, (k, _) in enumerate(pairs) if isinstance(k, ScalarNode)}  # the last one wins
        out: dict[str, Any] = {}
        for index, (key_node, value_node) in enumerate(pairs):
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, path, "a key must be a plain string, not a list or mapping")
                continue
            if key_node.tag not in _SCALAR_TAGS:
                self.problem(key_node, path, f"YAML tag {key_node.tag} is not allowed")
                continue
            key = key_node.value
            if winner[key] != index:
                continue
            child = (*path, key)
            self.positions[child] = self.lines(key_node.start_mark)
            out[key] = self.build(value_node, child, depth + 1)
        return out

    def scalar(self, node: ScalarNode, path: PathKey) -> Any:
        tag = node.tag
        if "${" in node.value and tag == _TAG + "str":
            value = self.interpolate(node, path)
            if value is None:
                return None
            self.interpolated.add(path)
            if _plain(node):  # type it as if written in place
                tag = self.resolver.resolve(ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
            node = ScalarNode(tag, value, node.start_mark, node.end_mark, node.style)
        elif tag == _TAG + "str":
            self.note_verbatim(node, path)
        if tag == _TAG + "bool" and node.value.lower() not in ("true", "false"):
            self.booleans[path] = node.value
        construct: Callable[[SafeConstructor, ScalarNode], Any] | None = _SCALAR_TAGS.get(tag)
        if construct is None:
            self.problem(node, path, f"YAML tag {tag} is not allowed (only plain data: strings, numbers, "
                                     "booleans, null, lists and mappings)")
            return None
        try:
            return construct(self.constructor, node)
        except (ValueError, yaml.YAMLError) as exc:
            if path and path[-1] in self.secret_keys:
                self.problem(node, path, f"cannot read this value as {tag.removeprefix(_TAG)} (not shown: a secret)")
            else:
                self.problem(node, path, f"cannot read {node.value!r}: {exc}")
            return None

    def note_verbatim(self, node: ScalarNode, path: PathKey) -> None:
        start, end = node.start_mark, node.end_mark
        if start.line != end.line or not (_plain(node) or node.style in ("'", '"')):
            return
        source = self.text[start.index: end.index]
        skip = 0 if _plain(node) else 1
        if source[skip: len(source) - skip] == node.value:
            line, column = self.lines(start)
            self.verbatim[path] = (line, column + skip)

    def interpolate(self, node: ScalarNode, path: PathKey) -> str | None:
        ok = True

        def substitute(match: re.Match[str]) -> str:
            nonlocal ok
            if match.group(1):  # $${X} is a literal ${X}
                return "${" + match.group(2) + "}"
            name, sep, default = match.group(2).partition(":")
            if not _ENV_NAME.match(name):
                self.problem(node, path, f"malformed variable reference ${{{match.group(2)}}}; "
                                         "expected ${NAME} or ${NAME:default}")
                ok = False
                return ""
            if name in self.environ:
                return self.environ[name]
            if sep:
                return default
            self.problem(node, path, f"environment variable {name} is not set and has no default "
                                     f"(write ${{{name}:default}} to give one)")
            ok = False
            return ""

        value = _ENV.sub(substitute, node.value)
        if "${" in _ENV.sub("", node.value):
            self.problem(node, path, "unclosed ${ in this value; write ${NAME} or ${NAME:default} "
                                     "(or $${...} for a literal ${...})")
            return None
        return value if ok else None
