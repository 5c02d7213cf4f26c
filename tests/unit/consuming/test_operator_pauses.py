"""consuming/operator_pauses.py: the operators' pauses as the consumer threads see them: a version that changes
with them, and which of a member's partitions they pause."""

from __future__ import annotations

from pathlib import Path

from kafka import TopicPartition
from tables import make_table

from karafkad.consuming.operator_pauses import OperatorPauses
from karafkad.store.pauses import PauseTarget

A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)


class TestOperatorPauses:
    def test_the_version_changes_only_when_the_pauses_do(self) -> None:
        """A consumer thread compares one integer after each poll; reading the same pauses again keeps it."""
        pauses = OperatorPauses()
        assert pauses.version == 0
        assert pauses.update([PauseTarget("g", route="r")]) and pauses.version == 1
        assert not pauses.update([PauseTarget("g", route="r")]) and pauses.version == 1
        assert pauses.update([]) and pauses.version == 2 and pauses.targets == frozenset()

    def test_a_paused_route_pauses_its_topics_partitions_in_its_group_only(self, tmp_path: Path) -> None:
        """A paused route pauses its topics partitions in its group only."""
        table = make_table(tmp_path, {
            "g": {"routes": [{"name": "r", "topic": "a", "handler": "h.handle"},
                             {"name": "s", "topic": "b", "handler": "h.handle"}]},
            "other": {"routes": [{"name": "r", "topic": "b", "handler": "h.handle"}]}})
        pauses = OperatorPauses()
        pauses.update([PauseTarget("g", route="r")])
        assert pauses.partitions(table.groups["g"], {A0, A1, B0}) == {A0, A1}
        assert pauses.partitions(table.groups["other"], {B0}) == set()

    def test_a_partition_is_paused_alone(self, tmp_path: Path) -> None:
        """A partition is paused alone."""
        table = make_table(tmp_path, {"g": {"routes": [{"name": "r", "topic": "a", "handler": "h.handle"}]}})
        pauses = OperatorPauses()
        pauses.update([PauseTarget("g", topic="a", partition=1), PauseTarget("g", topic="a", partition=7)])
        assert pauses.partitions(table.groups["g"], {A0, A1}) == {A1}  # 7 is not this member's
