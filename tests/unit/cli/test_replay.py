"""cli/replay.py: the plan's words (a replay under way, one partition, one message)."""

from __future__ import annotations

import pytest

from karafkad.cli.replay import _print_plan
from karafkad.clients.kafka.types import TopicPartition
from karafkad.ops.replay import PartitionPlan, ReplayPlan
from karafkad.store.replays import ReplayWindow


def _plan(resumed: int | None, messages: int = 1) -> ReplayPlan:
    window = ReplayWindow(resumed or 0, 4, 4 + messages)
    return ReplayPlan("billing", (), [PartitionPlan(TopicPartition("payments", 0), 5, 5, 4, window)], resumed)


class TestPlan:
    def test_a_replay_under_way_reads_as_completing_it(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`completing replay 1 of group 'billing', which is under way`, and one partition is singular."""
        _print_plan(_plan(1))
        out = capsys.readouterr().out
        assert out.startswith("completing replay 1 of group 'billing', which is under way; routes: all\n")
        assert out.endswith("up to 1 message on 1 partition to replay: each becomes a new job, once, with an id of "
                            "its own\n")

    def test_a_new_replay(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A new replay says so; counts above one are plural."""
        _print_plan(_plan(None, messages=3))
        out = capsys.readouterr().out
        assert out.startswith("a new replay of group 'billing'; routes: all\n")
        assert "up to 3 messages on 1 partition to replay" in out
