"""config/schema_check.py: schema errors explained in the terms of the file."""

from __future__ import annotations

import pytest

from karafkad.config.routes_schema import explainer
from karafkad.config.yamlfile import load_bytes
from karafkad.errors import Problem

ROUTE = "groups:\n  g:\n    routes:\n      - topic: t\n        handler: h.f\n"


def problems(text: str) -> list[Problem]:
    """What the routes file's schema says about `text`."""
    return explainer().problems(load_bytes(text.encode(), "routes.yaml", {}))


class TestSchemaExplainer:
    """The general explainer's words for a schema error, as the routes file's schema uses it."""

    @pytest.mark.parametrize(("line", "says"), [
        ("tombstone: yes", "true is not one of 'skip', 'enqueue', 'dead_letter' (yes/no/on/off are YAML booleans; "
                           "quote it: 'yes')"),
        ("queue: Off", "expected a string, got boolean false (yes/no/on/off are YAML booleans; quote it: 'Off')"),
    ])
    def test_a_yaml_1_1_boolean_word_is_named_in_the_error(self, line: str, says: str) -> None:
        """A value written yes/no/on/off that fails as a boolean: the problem says YAML read the word as one."""
        [problem] = problems(ROUTE + f"        {line}\n")
        assert problem.line == 6 and problem.message == says

    def test_true_written_as_true_gets_no_boolean_note(self) -> None:
        """Only the words that do not look like booleans get the note."""
        [problem] = problems(ROUTE + "        tombstone: true\n")
        assert "YAML booleans" not in problem.message

    def test_the_boolean_note_never_quotes_a_secret(self) -> None:
        """A password written `yes` is not repeated in the note."""
        [problem] = problems(ROUTE + "redis:\n  password: yes\n")
        assert problem.message.endswith("(yes/no/on/off are YAML booleans; quote it: '...')")
        assert "'yes'" not in problem.message

    def test_a_value_of_several_shapes_gets_every_complaint_of_the_shape_its_type_fits(self) -> None:
        """`batch` is true/false or a mapping: a mapping is checked as one, every problem inside it said at its key
        (a mistyped value by its type alone), not one problem picked among them nor "expected true or false"."""
        found = problems(ROUTE + "        batch: {max_messages: 0, max_wait: soon, wait: 1}\n")
        assert [(p.path, p.message) for p in found] == [
            ("groups.g.routes[0].batch.max_messages", "0 is out of range: must be >= 1"),
            ("groups.g.routes[0].batch.max_wait", "expected a number, got string 'soon'"),
            ("groups.g.routes[0].batch.wait", "unknown key 'wait' (did you mean 'max_wait'?)")]
        [other] = problems(ROUTE + "        batch: every\n")
        assert other.message == "expected a mapping or true or false, got string 'every'"


