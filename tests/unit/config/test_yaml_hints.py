"""config/yaml_hints.py: what a YAML syntax error likely means, said only where the text around it shows it.

The direct tests call the two hints on text; the others read broken files
through config/yamlfile.py, as a routes file is read, for both of PyYAML's
parsers (they word the same mistakes differently).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from karafkad.config import yamlfile
from karafkad.config.yaml_hints import indentation_hint, quote_hint
from karafkad.config.yamlfile import load_bytes, load_file
from karafkad.errors import ConfigError, Problem

BROKEN = Path(__file__).resolve().parents[2] / "fixtures" / "broken_routes"


def only(text: str) -> Problem:
    """The one problem reading `text` (a file named routes.yaml) raises."""
    with pytest.raises(ConfigError) as info:
        load_bytes(text.encode(), "routes.yaml", {})
    [problem] = info.value.problems
    return problem


class TestIndentationHint:
    """indentation_hint on text: a line whose indentation makes YAML read it as something else."""

    def test_a_line_further_right_than_a_key_with_a_value(self) -> None:
        """"mapping values are not allowed" under a `key: value` line, indented further: more of that value."""
        text = "a:\n  b: 1\n    c: 2\n"
        hint = indentation_hint(text, 3, "mapping values are not allowed here")
        assert hint.startswith(" (check the indentation of line 3: it starts further right than line 2 (column 5, "
                               "against 3)")

    def test_a_line_in_a_column_no_line_above_starts_in(self) -> None:
        """A block end YAML did not expect: the columns above are named."""
        text = "a:\n    b: 1\n  c: 2\n"
        hint = indentation_hint(text, 3, "expected <block end>, but found '<block mapping start>'")
        assert hint.startswith(" (check the indentation of line 3: it starts in column 3, where no line above it "
                               "starts (line 2 starts in column 5)")

    def test_a_dash_without_a_space_is_named_on_the_line_above(self) -> None:
        """`-topic:` is a key named "-topic", not a list item: the hint names the line it is on."""
        text = "routes:\n  -topic: t\n    handler: h\n"
        assert indentation_hint(text, 3, "mapping values are not allowed here") == (
            " (check line 2: `-topic` is a key, not a list item: a list item needs a space after its `-`)")

    @pytest.mark.parametrize(("line", "problem"), [
        (0, "did not find expected key"),                 # no such line
        (2, "did not find expected key"),                 # a comment line
        (3, "found undefined alias"),                     # not an indentation error
    ])
    def test_no_hint_without_a_line_or_an_indentation_error(self, line: int, problem: str) -> None:
        """Lines out of range, blank or comment lines, and other errors get no hint."""
        assert indentation_hint("a:\n  # note\n  b: *x\n", line, problem) == ""


class TestIndentationHints:
    """A line indented off says so, with the line and the columns, for either of PyYAML's parsers (the C one
    says "did not find expected key", the Python one "expected <block end>, but found ...")."""

    CASES: ClassVar[list[tuple[str, int, str]]] = [
        ("yaml_indented_too_far.yaml", 6,
         "(check the indentation of line 6: it starts further right than line 5 (column 11, against 9), so YAML "
         "reads it as more of line 5's value; a key of the same mapping starts in the same column)"),
        ("yaml_indented_between.yaml", 6,
         "(check the indentation of line 6: it starts in column 8, where no line above it starts (line 5 starts "
         "in column 9); a key goes in the column of the other keys of its mapping, a `- ` item in that of the "
         "other items of its list)"),
        ("yaml_group_key_indented_between.yaml", 6,
         "(check the indentation of line 6: it starts in column 4, where no line above it starts (line 5 starts "
         "in column 9); a key goes in the column of the other keys of its mapping, a `- ` item in that of the "
         "other items of its list)"),
        ("yaml_list_item_in_key_column.yaml", 6,
         "(check the indentation of line 6: a `- ` list item in the column of the keys of line 5, where YAML "
         "expects another key; the item of line 4 starts in column 7)"),
        ("yaml_list_item_without_space.yaml", 5,
         "(check line 4: `-topic` is a key, not a list item: a list item needs a space after its `-`)"),
    ]

    @pytest.mark.parametrize("loader", [yaml.CSafeLoader, yaml.SafeLoader], ids=["C parser", "Python parser"])
    @pytest.mark.parametrize(("file", "line", "hint"), CASES)
    def test_a_line_indented_off_gets_a_hint_naming_it(self, monkeypatch: pytest.MonkeyPatch,
                                                       loader: type[yaml.SafeLoader], file: str, line: int,
                                                       hint: str) -> None:
        """The broken files of the corpus: PyYAML's own words, then the hint, at the line PyYAML stopped at."""
        monkeypatch.setattr(yamlfile, "_Loader", loader)
        with pytest.raises(ConfigError) as info:
            load_file(BROKEN / file, {})
        (problem,) = info.value.problems
        assert problem.line == line
        assert problem.message.startswith("YAML syntax: ")
        assert problem.message.endswith(" " + hint)

    @pytest.mark.parametrize("text", [
        "a: b: c\n",                                   # a second key on one line: not indentation
        "a:\n  b: 1\n  c: [1,\n",                      # an unclosed list
        "groups:\n  shop:\n    routes: []\n  - x\n",  # a list item beside keys, lined up with them
    ])
    def test_no_indentation_hint_where_the_indentation_is_not_the_matter(self, text: str) -> None:
        """Other syntax errors keep PyYAML's words alone."""
        assert "indentation" not in only(text).message


class TestQuoteHint:
    """quote_hint: an expression (a filter, a description) YAML broke on, because it was not quoted."""

    def test_the_hint_quotes_the_value_of_an_expression_key_on_the_error_s_line(self) -> None:
        """The key's value as a single-quoted YAML string, inner single quotes doubled."""
        text = "routes:\n  - filter: params.a == 'x': b\n"
        hint = quote_hint(text, text.index("': b"))
        assert hint == (" (quote the whole `filter:` expression, or YAML reads the `: ` and quotes in it as its own: "
                        "filter: 'params.a == ''x'': b')")

    def test_no_hint_away_from_an_expression_key(self) -> None:
        """An error in another key's value, or before the expression starts, gets no hint."""
        text = "queue: a: b\nfilter: ok\n"
        assert quote_hint(text, text.index(": b")) == ""
        assert quote_hint("filter: x\n", 0) == ""

    def test_a_description_is_a_value_not_an_expression(self) -> None:
        """The same hint for `description:`, naming it a value."""
        text = "description: order {key}: x\n"
        assert "quote the whole `description:` value" in quote_hint(text, text.index("}: x"))

    @pytest.mark.parametrize(("line", "example"), [
        ('filter: params == "a: b"', """filter: 'params == "a: b"'"""),
        ('filter: "x" in params', """filter: '"x" in params'"""),
        ("filter: params.a == 'x': b", "filter: 'params.a == ''x'': b'"),  # a ' inside is doubled
        ("description: order {key}: x", "description: 'order {key}: x'"),
    ])
    def test_an_unquoted_expression_gets_a_hint_to_quote_it(self, line: str, example: str) -> None:
        """YAML that breaks inside a filter (or description) says to quote the whole of it, with the line quoted."""
        problem = only(f"routes:\n  - topic: t\n    {line}\n")
        assert problem.line == 3
        assert f"quote the whole `{line.partition(':')[0]}:`" in problem.message
        assert problem.message.endswith(f": {example})")

    def test_the_quote_hint_in_a_flow_mapping_and_only_for_expression_keys(self) -> None:
        """In {...} the hint has no example (where the value ends is unclear); another key gets no hint."""
        flow = only('routes:\n  - {topic: t, filter: "x" in params}\n')
        assert flow.message.endswith("quote the whole `filter:` expression, or YAML reads the `: ` and quotes in "
                                     "it as its own)")
        assert "quote" not in only("a: b: c\n").message
