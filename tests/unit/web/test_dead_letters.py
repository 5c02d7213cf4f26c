"""web/dead_letters.py: the dead letters page: the list's filters read from the form, each letter as text with
its routes' re-drive states, and the re-drive form only for who may act."""

from __future__ import annotations

from pathlib import Path

import pytest
from tables import make_record, make_table

from karafkad.ops.dead_letter_reading import Page
from karafkad.ops.dead_letters import Selection
from karafkad.store.dead_letter_headers import StoredDeadLetter
from karafkad.web.dead_letters import as_json, body, parse_selection
from karafkad.web.html import READ_ONLY, Viewer


def letter() -> StoredDeadLetter:
    original = make_record(4, b"<b>junk</b>", key=b"<i>k</i>")
    return StoredDeadLetter("t-dead", 0, 9, 1_700_000_000_000, "g", ("ok",), "decode", "invalid <JSON>", original)


class TestSelection:
    def test_the_fields_are_the_list_filters(self) -> None:
        """The fields are the list filters."""
        assert parse_selection({"route": ["ok"], "kind": ["schema"], "since": ["1700000000"]}) == Selection(
            ("ok",), ("schema",), 1_700_000_000_000, None)
        assert parse_selection({}) == Selection()

    @pytest.mark.parametrize(("fields", "said"), [({"kind": ["nope"]}, "unknown kind nope"),
                                                  ({"until": ["soon"]}, "until 'soon' is not ISO 8601")])
    def test_wrong_fields_say_why(self, fields: dict[str, list[str]], said: str) -> None:
        """Wrong fields say why."""
        problem = parse_selection(fields)
        assert isinstance(problem, str) and said in problem


class TestPage:
    def test_letters_as_text_and_the_redrive_form_only_for_who_may_act(self, tmp_path: Path) -> None:
        """Letters as text and the redrive form only for who may act."""
        table = make_table(tmp_path, {"g": {"routes": [
            {"name": "ok", "topic": "t", "handler": "h.handle", "dead_letter": "t-dead"}]}})
        page = Page([(letter(), {"ok": "passes"})], ["t-dead"])
        read_only = body(table, {}, Selection(), page, None, READ_ONLY)
        assert "<b>junk" not in read_only and "&lt;b&gt;junk&lt;/b&gt;" in read_only
        assert "invalid &lt;JSON&gt;" in read_only
        assert "<form method=\"post\"" not in read_only and 'name="at"' not in read_only
        acting = body(table, {}, Selection(routes=("ok",)), page, None, Viewer(True, "ops", "tok"))
        assert '<form method="post" action="/actions/redrive"' in acting
        assert '<input type="checkbox" name="at" value="t-dead:0:9"' in acting
        assert '<input type="hidden" name="route" value="ok">' in acting
        assert as_json(page)["letters"][0]["at"] == "t-dead:0:9"

    def test_missing_topics_and_nothing_chosen_are_said(self, tmp_path: Path) -> None:
        """Missing topics and nothing chosen are said."""
        table = make_table(tmp_path, {"g": {"routes": [
            {"name": "ok", "topic": "t", "handler": "h.handle", "dead_letter": "t-dead"}]}})
        shown = body(table, {}, Selection(), Page([], ["t-dead"], ["t-dead"]), None, READ_ONLY)
        assert "topic t-dead does not exist yet" in shown and "No dead letter chosen." in shown
