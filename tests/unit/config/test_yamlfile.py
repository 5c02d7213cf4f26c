"""config/yamlfile.py: reading YAML safely: plain data only, positions kept, environment substituted, bombs defused
(what a syntax error likely means is tests/unit/config/test_yaml_hints.py's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from karafkad import defaults
from karafkad.config.yamlfile import Document, dotted, load_bytes, load_file
from karafkad.errors import ConfigError, Problem


def load(text: str | bytes, environ: dict[str, str] | None = None) -> Document:
    """Parse `text` as a file named routes.yaml."""
    raw = text.encode() if isinstance(text, str) else text
    return load_bytes(raw, "routes.yaml", environ or {})


def problems(text: str | bytes, environ: dict[str, str] | None = None) -> list[Problem]:
    """The problems loading `text` raises (the test fails if it loads)."""
    with pytest.raises(ConfigError) as info:
        load(text, environ)
    return info.value.problems


def only(text: str | bytes, environ: dict[str, str] | None = None) -> Problem:
    """The single problem loading `text` raises."""
    found = problems(text, environ)
    assert len(found) == 1, found
    return found[0]


class TestPlainData:
    def test_scalars_are_typed_as_yaml_says(self) -> None:
        """Strings, integers, floats, booleans and null come out as Python values."""
        data = load("s: text\ni: 3\nf: 2.5\nb: true\nn: null\ne:\nq: '3'\n").data
        assert data == {"s": "text", "i": 3, "f": 2.5, "b": True, "n": None, "e": None, "q": "3"}

    def test_lists_and_mappings(self) -> None:
        """Block and flow collections become lists and dicts."""
        assert load("a: [1, 2]\nb:\n  - x: 1\n  - {y: 2}\n").data == {"a": [1, 2], "b": [{"x": 1}, {"y": 2}]}

    def test_dates_stay_text(self) -> None:
        """A date-like value is the string it was written as (routes files have no dates)."""
        assert load("d: 2024-01-02\n").data == {"d": "2024-01-02"}

    def test_byte_order_mark_is_ignored(self) -> None:
        """A UTF-8 BOM at the start is not content."""
        assert load(b"\xef\xbb\xbfa: 1\n").data == {"a": 1}

    def test_explicit_standard_tags_are_allowed(self) -> None:
        """!!str, !!int and friends are plain data."""
        assert load("a: !!str 12\nb: !!int '7'\n").data == {"a": "12", "b": 7}


class TestPositions:
    def test_every_key_and_item_has_a_line_and_column(self) -> None:
        """Positions are 1-based; a mapping value is located at its key."""
        doc = load("groups:\n  g:\n    routes:\n      - topic: t\n        handler: h.f\n")
        assert doc.positions[("groups", "g", "routes", 0, "handler")] == (5, 9)
        assert doc.positions[("groups", "g", "routes", 0)] == (4, 9)
        assert doc.where(("groups", "g", "routes", 0, "nothing", "here")) == (4, 9)

    def test_problem_names_file_line_column_and_path(self) -> None:
        """Document.problem renders as FILE:LINE:COL: path: message."""
        doc = load("a:\n  b: [1, 2]\n")
        assert str(doc.problem(("a", "b", 1), "bad")) == "routes.yaml:2:10: a.b[1]: bad"

    def test_verbatim_values_locate_a_column_inside_them(self) -> None:
        """A one-line value written as it reads points problem_in_value at the character itself."""
        doc = load("plain: abc def\nquoted: \"abc def\"\nsingle: 'abc'\n")
        assert doc.problem_in_value(("plain",), 5, "x").column == 12
        assert doc.problem_in_value(("quoted",), 5, "x").column == 14
        assert doc.problem_in_value(("single",), 1, "x").column == 10

    def test_values_not_written_verbatim_fall_back_to_the_key(self) -> None:
        """Escapes, block scalars and substituted values point at the key instead."""
        doc = load('esc: "a\\tb"\nblock: |\n  abc\nenv: ${X:abc}\n')
        assert doc.problem_in_value(("esc",), 2, "x").column == 1
        assert doc.problem_in_value(("block",), 2, "x").line == 2
        assert doc.problem_in_value(("env",), 2, "x").column == 1

    def test_dotted_paths(self) -> None:
        """Paths read like the file: keys joined by dots, list indexes in brackets."""
        assert dotted(("groups", "billing", "routes", 2, "filter")) == "groups.billing.routes[2].filter"
        assert dotted(()) == ""


class TestInterpolation:
    def test_variable_is_substituted(self) -> None:
        """${VAR} takes the environment's value."""
        assert load("a: ${HOST}\n", {"HOST": "kafka-1"}).data == {"a": "kafka-1"}

    def test_default_when_unset(self) -> None:
        """${VAR:default} takes the default when VAR is unset, the value when set (even empty)."""
        assert load("a: ${HOST:localhost}\n").data == {"a": "localhost"}
        assert load("a: x${HOST:}y\n", {"HOST": ""}).data == {"a": "xy"}
        assert load("a: ${URL:redis://h:6379/0}\n").data == {"a": "redis://h:6379/0"}

    def test_several_references_in_one_value(self) -> None:
        """References substitute inside longer text."""
        assert load("a: ${H:h}:${P:9092}\n").data == {"a": "h:9092"}

    def test_plain_values_are_typed_after_substitution(self) -> None:
        """An unquoted reference is typed as if its value were written in place."""
        data = load("n: ${N:3}\nb: ${B:true}\nf: ${F:0.5}\ne: ${E:}\n").data
        assert data == {"n": 3, "b": True, "f": 0.5, "e": None}

    def test_quoted_values_stay_strings(self) -> None:
        """A quoted reference is always a string."""
        assert load("n: \"${N:3}\"\nm: '${N:3}'\n").data == {"n": "3", "m": "3"}

    def test_substituted_text_is_not_interpolated_again(self) -> None:
        """A value holding ${...} is used as is: no second round, no injection."""
        assert load("a: ${A}\n", {"A": "${B}", "B": "no"}).data == {"a": "${B}"}

    def test_substituted_text_is_not_parsed_as_yaml(self) -> None:
        """A value that looks like YAML structure stays a string."""
        assert load("a: ${A}\n", {"A": "[1, 2]"}).data == {"a": "[1, 2]"}
        assert load("a: ${A}\n", {"A": "!!python/name:os.system"}).data == {"a": "!!python/name:os.system"}

    def test_double_dollar_is_a_literal(self) -> None:
        """$${VAR} is the text ${VAR}."""
        assert load("a: $${HOME}\n").data == {"a": "${HOME}"}

    def test_substituted_paths_are_remembered(self) -> None:
        """Document.interpolated lists the values that came from the environment."""
        assert load("a: ${A:1}\nb: 2\n").interpolated == {("a",)}

    def test_unset_variable_names_the_variable_and_line(self) -> None:
        """An unset variable without a default is an error naming it, at its line."""
        problem = only("x: 1\nkafka:\n  client_id: ${CLIENT_ID}\n")
        assert (problem.line, problem.column) == (3, 14)
        assert problem.path == "kafka.client_id"
        assert "environment variable CLIENT_ID is not set and has no default" in problem.message

    def test_every_unset_variable_is_reported(self) -> None:
        """All unset variables are listed at once."""
        found = problems("a: ${A}\nb: ${B}\n")
        assert [p.line for p in found] == [1, 2]

    @pytest.mark.parametrize("text", ["a: ${}\n", "a: ${1X}\n", "a: ${A-B}\n", "a: ${ A}\n"])
    def test_malformed_reference(self, text: str) -> None:
        """A reference that is not ${NAME} or ${NAME:default} is an error."""
        assert "malformed variable reference" in only(text).message

    def test_unclosed_reference(self) -> None:
        """${ without its closing brace is an error, not literal text."""
        assert "unclosed ${" in only("a: ${HOST:localhost\n").message

    def test_keys_are_not_interpolated(self) -> None:
        """Only values are substituted."""
        assert load("${A}: 1\n", {"A": "x"}).data == {"${A}": 1}


class TestDuplicateAndMergeKeys:
    def test_duplicate_key_is_an_error(self) -> None:
        """A key written twice in one mapping names both lines."""
        problem = only("a: 1\nb: 2\na: 3\n")
        assert (problem.line, problem.path) == (3, "a")
        assert "duplicate key 'a' (first at line 1)" in problem.message

    def test_same_key_in_different_mappings_is_fine(self) -> None:
        """Duplicate means within one mapping."""
        assert load("a: {x: 1}\nb: {x: 2}\n").data == {"a": {"x": 1}, "b": {"x": 2}}

    def test_merge_key_merges_and_is_overridden(self) -> None:
        """`<<: *anchor` copies keys; keys written beside it win."""
        doc = load("base: &b {queue: q, batch: false}\nroute:\n  <<: *b\n  batch: true\n")
        assert doc.data["route"] == {"queue": "q", "batch": True}

    def test_merge_of_several_anchors(self) -> None:
        """`<<: [*a, *b]` merges both, the first winning."""
        doc = load("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n")
        assert doc.data["c"] == {"x": 1, "y": 2}

    def test_keys_written_beside_a_merge_are_still_checked_for_duplicates(self) -> None:
        """Overriding a merged key is fine; writing the same key twice is still an error."""
        problem = only("base: &b {queue: q}\nroute:\n  <<: *b\n  batch: true\n  batch: false\n")
        assert "duplicate key 'batch' (first at line 4)" in problem.message

    def test_merge_of_a_scalar_is_an_error(self) -> None:
        """Only mappings can be merged."""
        assert "merge key" in only("a:\n  <<: 1\n").message

    def test_aliases_reuse_values(self) -> None:
        """An ordinary anchor and alias copy the value."""
        assert load("a: &x [1, 2]\nb: *x\n").data == {"a": [1, 2], "b": [1, 2]}


class TestTagsRefused:
    @pytest.mark.parametrize(("text", "tag"), [
        ('a: !!python/object/apply:os.system ["id"]\n', "python/object/apply:os.system"),
        ("a: !!python/name:os.system\n", "python/name:os.system"),
        ("a: !!python/object:collections.OrderedDict {}\n", "python/object:collections.OrderedDict"),
        ("a: !!binary aGVsbG8=\n", "binary"),
        ("a: !!set {x: null}\n", "set"),
        ("a: !!omap [x: 1]\n", "omap"),
        ("a: !Ref thing\n", "!Ref"),
        ("a: !include other.yaml\n", "!include"),
    ])
    def test_tags_beyond_plain_data_are_refused(self, text: str, tag: str) -> None:
        """Only strings, numbers, booleans, null, lists and mappings: any other tag is an error."""
        problem = only(text)
        assert tag in problem.message
        assert "is not allowed" in problem.message
        assert problem.line == 1

    def test_tagged_key_is_refused(self) -> None:
        """A tag on a key is refused too."""
        assert "python/name:os.system is not allowed" in only("!!python/name:os.system : 1\n").message

    def test_collection_as_key_is_refused(self) -> None:
        """A key must be a plain string."""
        assert "a key must be a plain string" in only("? [a, b]\n: 1\n").message

    def test_nothing_is_executed(self, tmp_path: Path) -> None:
        """An apply tag never runs: the file it would create does not appear."""
        marker = tmp_path / "pwned"
        problems(f'a: !!python/object/apply:os.system ["touch {marker}"]\n')
        assert not marker.exists()


class TestBombsAndLimits:
    def test_billion_laughs_is_stopped(self) -> None:
        """Nine levels of nine aliases stop at YAML_MAX_NODES values, at once."""
        lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        for level in range(1, 10):
            lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
        problem = only("\n".join(lines) + "\n")
        assert f"more than {defaults.YAML_MAX_NODES} values" in problem.message
        assert "alias bomb" in problem.message

    def test_quadratic_merge_blowup_is_stopped(self) -> None:
        """Aliases of big mappings repeated many times count against the same limit."""
        big = "{" + ", ".join(f"k{i}: {i}" for i in range(1000)) + "}"
        text = f"base: &b {big}\nlist: [" + ", ".join(["*b"] * 100) + "]\n"
        assert "alias bomb" in only(text).message

    def test_recursive_alias_is_stopped(self) -> None:
        """A value that contains itself stops at the depth limit."""
        assert "recursive alias" in only("a: &x [1, *x]\n").message

    def test_deep_nesting_is_refused(self) -> None:
        """Nesting past the parser's (or YAML_MAX_DEPTH) limit is an error, not a crash."""
        assert only("a: " + "[" * 70 + "]" * 70 + "\n").line == 1
        assert "nesting" in only("a: " + "[" * 5000 + "]" * 5000 + "\n").message

    def test_file_over_the_size_limit_is_refused_unread(self, tmp_path: Path) -> None:
        """A file above ROUTES_FILE_MAX_BYTES is refused from its size alone, at line 1."""
        path = tmp_path / "big.yaml"
        with path.open("wb") as handle:
            handle.truncate(20 * 1024 * 1024)
        with pytest.raises(ConfigError) as info:
            load_file(path, {})
        problem = info.value.problems[0]
        assert (problem.line, problem.column) == (1, 1)
        assert "file is 21.0 MB; a routes file may be at most 1024 KiB" in problem.message

    def test_bytes_over_the_size_limit_are_refused(self) -> None:
        """load_bytes applies the same limit."""
        with pytest.raises(ConfigError, match="may be at most 1 KiB"):
            load_bytes(b"a: 1\n" * 1000, "x.yaml", {}, max_bytes=1024)


class TestUnreadableText:
    @pytest.mark.parametrize("raw", [b"", b"   \n\n", b"# only\n  # comments\n", b"\xef\xbb\xbf\n"])
    def test_empty_file(self, raw: bytes) -> None:
        """Empty, blank or comments-only: one problem at 1:1 saying what was expected."""
        problem = only(raw)
        assert (problem.line, problem.column) == (1, 1)
        assert "file is empty; expected a mapping with a `groups` section" in problem.message

    def test_empty_message_names_what_the_caller_expects(self) -> None:
        """A schema file read with load_bytes says a schema was expected."""
        with pytest.raises(ConfigError, match="expected a JSON Schema"):
            load_bytes(b"", "s.yaml", {}, expected="a JSON Schema")

    def test_not_utf8(self) -> None:
        """Bytes that are not UTF-8 are refused at their line and column."""
        problem = only(b"a: 1\nb: caf\xe9\n")
        assert (problem.line, problem.column) == (2, 7)
        assert "not UTF-8 text (byte 0xe9)" in problem.message

    @pytest.mark.parametrize(("raw", "name"), [(b"a: x\x00y\n", "U+0000 (NUL)"), (b"a: \x1b[1m\n", "U+001B (ESC)"),
                                               (b"a: \x07\n", "U+0007"), (b"a: \x7f\n", "U+007F (DEL)"),
                                               ("a: \x9b\n".encode(), "U+009B")])
    def test_control_characters(self, raw: bytes, name: str) -> None:
        """Control characters are refused by name and column before any parser sees them."""
        problem = only(raw)
        assert name in problem.message
        assert problem.line == 1
        assert problem.column >= 4

    def test_tabs_and_newline_kinds_are_text(self) -> None:
        """Tabs inside values and CRLF line ends are fine."""
        assert load(b"a: 'x\ty'\r\nb: 2\r\n").data == {"a": "x\ty", "b": 2}


class TestSyntaxErrors:
    @pytest.mark.parametrize(("text", "line", "message"), [
        ("a: [1, 2\n", 2, "did not find expected ',' or ']'"),
        ("a: 'open\n", 2, "while scanning a quoted scalar started at line 1"),
        ("a: b: c\n", 1, "mapping values are not allowed in this context"),
        ("a:\n\tb: 1\n", 2, "a tab: YAML is indented with spaces only"),
        ("a: *nowhere\n", 1, "found undefined alias"),
        ("a: &x 1\nb: &x 2\nc: *x\n", 2, "duplicate anchor (first defined at line 1)"),
        ("- a\nb: 1\n", 2, "did not find expected '-' indicator"),
        ("a: 1\n---\nb: 2\n", 2, "expected a single document"),
    ])
    def test_syntax_error_names_line_and_cause(self, text: str, line: int, message: str) -> None:
        """A YAML syntax error is one problem at the line where it was found."""
        problem = only(text)
        assert problem.line == line
        assert problem.column >= 1
        assert message in problem.message

    def test_unreadable_file(self, tmp_path: Path) -> None:
        """A file that cannot be read is one problem naming the reason."""
        with pytest.raises(ConfigError, match="cannot read the file: No such file or directory"):
            load_file(tmp_path / "missing.yaml", {})

    def test_directory_instead_of_a_file(self, tmp_path: Path) -> None:
        """A folder given as the routes file is a problem, not a traceback."""
        with pytest.raises(ConfigError, match="cannot read the file"):
            load_file(tmp_path, {})


class TestDocument:
    def test_where_falls_back_to_the_nearest_ancestor(self) -> None:
        """A path with no position of its own uses its parent's."""
        doc = Document("f", {}, {("a",): (3, 1)})
        assert doc.where(("a", "b", 0)) == (3, 1)
        assert doc.where(("z",)) == (1, 1)

    def test_problem_in_value_without_a_column(self) -> None:
        """Column 0 (unknown) gives the key's position."""
        doc = load("a: text\n")
        problem: Any = doc.problem_in_value(("a",), 0, "x")
        assert (problem.line, problem.column) == (1, 1)
