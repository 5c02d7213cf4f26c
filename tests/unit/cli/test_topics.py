"""cli/topics.py: what `karafkad topics plan|apply` prints for a plan."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from karafkad import defaults
from karafkad.cli import topics
from karafkad.config.settings import TopicSpec
from karafkad.errors import Problem
from karafkad.ops.topics import Change, TopicsPlan

TYPO = Problem("routes.yaml", 9, 7, "topics.notes.config.retention.msx",
               "topic notes: the cluster knows no topic config 'retention.msx' (did you mean 'retention.ms'?)")


def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, plan: TopicsPlan, action: str = "plan") -> int:
    """The command on a routes file declaring a topic, against a cluster whose plan is `plan`."""
    (tmp_path / "handlers").mkdir(parents=True)
    config = tmp_path / "routes.yaml"
    config.write_text("groups:\n  g:\n    routes:\n      - {topic: notes, handler: h.f}\n"
                      "topics:\n  notes: {partitions: 1}\n")

    @contextmanager
    def cluster(*_: Any) -> Iterator[object]:
        yield object()

    monkeypatch.setattr(topics, "Cluster", cluster)
    monkeypatch.setattr(topics, "plan_topics", lambda _config, _cluster: plan)
    monkeypatch.setattr(topics, "apply_topics", lambda *_: pytest.fail("nothing may be applied"))
    return topics.run(argparse.Namespace(config=config, action=action))


class TestPlan:
    def test_a_plan_with_a_problem_never_claims_no_changes(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
        """A config name the cluster does not know: the topics that are as declared are counted, never "no
        changes"; the problem follows, and the exit is 1 for plan and apply alike."""
        for action in ("plan", "apply"):
            plan = TopicsPlan(in_step=["logs", "orders"], problems=[TYPO])
            assert run(monkeypatch, tmp_path / action, plan, action) == defaults.EXIT_CONFIG
            out, err = capsys.readouterr()
            assert "no changes" not in out
            assert out == "2 topics already as declared\n"
            assert "did you mean 'retention.ms'?" in err and err.splitlines()[-1 if action == "plan" else -2] == \
                "1 problem found"

    def test_a_plan_without_anything_to_do_says_so(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
        """Everything as declared: one line, counted in the right number."""
        assert run(monkeypatch, tmp_path, TopicsPlan(in_step=["notes"])) == defaults.EXIT_OK
        assert capsys.readouterr().out == "no changes: 1 topic as declared\n"

    def test_changes_refusals_and_notes_line_up_in_one_table(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
        """The kinds form a column as wide as the longest one present; the in-step topics are counted after."""
        plan = TopicsPlan(changes=[Change("orders", "add partitions", "2 -> 4", TopicSpec("orders", 4))],
                          refusals=["logs: has 4 partitions, routes.yaml says 1: ..."], notes=["not checked"],
                          in_step=["notes"])
        assert run(monkeypatch, tmp_path, plan) == defaults.EXIT_OK
        assert capsys.readouterr().out.splitlines() == [
            "add partitions  orders: 2 -> 4",
            "not changed     logs: has 4 partitions, routes.yaml says 1: ...",
            "note            not checked",
            "1 topic already as declared",
        ]
