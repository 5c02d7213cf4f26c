"""pipeline/explaining.py: what each route of a message's topic does with it, sorted out of the real pipeline's
trace, one copy for `karafkad explain` and the console's explorer."""

from __future__ import annotations

from pathlib import Path

from tables import make_record, make_table

from karafkad.pipeline.explaining import explain


class TestExplain:
    def test_each_group_and_route_of_the_topic_with_its_steps_and_outcome(self, tmp_path: Path) -> None:
        """Each group and route of the topic with its steps and outcome."""
        table = make_table(tmp_path, {
            "g": {"routes": [
                {"name": "all", "topic": "t", "handler": "h.handle", "schema": {"type": "object", "required": ["n"]},
                 "dead_letter": "dead"},
                {"name": "big", "topic": "t", "handler": "h.handle", "filter": "params.n > 5"},
                {"name": "other", "topic": "u", "handler": "h.handle"}]},
            "h": {"routes": [{"name": "text", "topic": "t", "handler": "h.handle", "decode": "text"}]},
            "none": {"routes": [{"name": "n", "topic": "v", "handler": "h.handle"}]}})
        [g, h] = explain(table, make_record(7, b'{"n": 1}'))
        assert (g.group.id, [r.route.name for r in g.routes]) == ("g", ["all", "big"])
        assert [(r.route.name, r.outcome) for r in g.routes] == [("all", "enqueue"), ("big", "skip")]
        assert [s.label for s in g.routes[0].steps] == ["decode (json)", "schema"]
        assert g.routes[0].jobs[0].job_id.endswith("-0-7") and g.routes[1].skipped == ["filtered"]
        assert (h.routes[0].outcome, h.routes[0].steps[0].label) == ("enqueue", "decode (text)")

    def test_a_rejected_message_names_its_dead_letter(self, tmp_path: Path) -> None:
        """A rejected message names its dead letter."""
        table = make_table(tmp_path, {"g": {"routes": [
            {"name": "all", "topic": "t", "handler": "h.handle", "dead_letter": "dead"}]}})
        [g] = explain(table, make_record(0, b"not json"))
        letter = g.routes[0].dead_letter
        assert g.routes[0].outcome == "dead letter" and letter is not None and letter.kind == "decode"

    def test_a_topic_no_route_consumes_is_no_group(self, tmp_path: Path) -> None:
        """A topic no route consumes is no group."""
        table = make_table(tmp_path, {"g": {"routes": [{"topic": "t", "handler": "h.handle"}]}})
        assert explain(table, make_record(0, b"{}", topic="elsewhere")) == []
