"""ops/topics.py: the plan's checks of topic config names, against a cluster that answers from memory."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kafka.errors import TopicAuthorizationFailedError

from karafkad.clients.kafka.admin import TopicState
from karafkad.config.loading import load_config
from karafkad.ops.topics import plan_topics

NAMES = frozenset({"retention.ms", "cleanup.policy", "segment.ms"})


class FakeCluster:
    """The few questions plan_topics asks; `names` is what a topic's full description lists."""

    def __init__(self, existing: Mapping[str, TopicState], names: frozenset[str]) -> None:
        self.existing = existing
        self.names = names
        self.described_from: list[str] = []

    def topics(self, topics: Iterable[str]) -> dict[str, TopicState]:
        return {t: self.existing[t] for t in topics if t in self.existing}

    def configs(self, topics: Mapping[str, Iterable[str]]) -> dict[str, dict[str, str]]:
        return {t: {} for t in topics}

    def topic_config_names(self, existing: Iterable[str]) -> frozenset[str]:
        self.described_from = list(existing)
        return self.names


def plan(tmp_path: Path, topics: str, cluster: FakeCluster) -> Any:
    (tmp_path / "handlers").mkdir(exist_ok=True)
    path = tmp_path / "plan2.yaml"
    path.write_text("groups:\n  g:\n    routes:\n      - {topic: notes, handler: h.f}\ntopics:\n" + topics)
    return plan_topics(load_config(path, {}), cluster)  # type: ignore[arg-type]


class TestPlanTopics:
    """plan_topics: what apply would change, refuse, or find already as declared."""

    def test_an_unknown_config_name_is_a_problem_at_its_line_with_a_did_you_mean(self, tmp_path: Path) -> None:
        """retention.msx: a problem naming the topic and key, where the file has it; known names are not."""
        cluster = FakeCluster({"notes": TopicState("notes", 1, 1)}, NAMES)
        found = plan(tmp_path, "  notes:\n    partitions: 1\n    config:\n      retention.ms: 1\n"
                               "      retention.msx: 5\n", cluster)
        [problem] = found.problems
        assert (problem.file, problem.line) == (str(tmp_path / "plan2.yaml"), 10)
        assert problem.message == "topic notes: the cluster knows no topic config 'retention.msx' " \
                                  "(did you mean 'retention.ms'?)"
        assert cluster.described_from == ["notes"]  # the names are read from a declared topic that exists
        [change] = found.changes  # the unknown name is a problem, not also a change; the known one is set
        assert (change.kind, change.configs) == ("set config", {"retention.ms": "1"})

    def test_a_cluster_that_will_not_describe_configs_leaves_the_names_unchecked_with_a_note(
            self, tmp_path: Path) -> None:
        """An ACL without DescribeConfigs: the plan still stands, saying what it could not check and why."""
        class Refusing(FakeCluster):
            def topic_config_names(self, existing: Iterable[str]) -> frozenset[str]:
                raise TopicAuthorizationFailedError("not allowed")

        found = plan(tmp_path, "  notes: {partitions: 1, config: {retention.ms: 5}}\n", Refusing({}, NAMES))
        assert found.problems == []
        assert [c.kind for c in found.changes] == ["create"]
        [note] = found.notes
        assert note.startswith("topic config names not checked: the cluster did not describe a topic's configs (")
        assert "TopicAuthorizationFailedError" in note

    def test_without_a_topic_to_read_names_from_the_plan_says_it_did_not_check(self, tmp_path: Path) -> None:
        """An empty cluster lists no config names: a note, not a problem."""
        found = plan(tmp_path, "  notes: {partitions: 1, config: {retention.msx: 5}}\n", FakeCluster({}, frozenset()))
        assert found.problems == []
        assert found.notes == ["topic config names not checked: the cluster has no topic to read them from "
                               "(apply will say which ones the broker refuses)"]

    def test_the_refusals_name_the_routes_file_as_given(self, tmp_path: Path) -> None:
        """Fewer partitions than the cluster has: the refusal names plan2.yaml, not routes.yaml."""
        found = plan(tmp_path, "  notes: {partitions: 1}\n", FakeCluster({"notes": TopicState("notes", 4, 1)}, NAMES))
        assert found.refusals[0].startswith(f"notes: has 4 partitions, {tmp_path / 'plan2.yaml'} says 1: ")

    def test_counts_of_one_are_singular(self, tmp_path: Path) -> None:
        """A topic of one partition to create reads "1 partition"; a refusal of a topic that has one says so too."""
        found = plan(tmp_path, "  notes: {partitions: 1}\n", FakeCluster({}, NAMES))
        assert found.changes[0].detail == "1 partition"
        shrunk = plan(tmp_path, "  notes: {partitions: 1}\n", FakeCluster({"notes": TopicState("notes", 2, 1)}, NAMES))
        assert shrunk.refusals[0].startswith("notes: has 2 partitions, ")
        one = plan(tmp_path, "  notes: {partitions: 1, replication_factor: 3}\n",
                   FakeCluster({"notes": TopicState("notes", 1, 1)}, NAMES))
        assert "1 partition" not in one.refusals[0] and one.in_step == []

    def test_a_topic_with_an_unknown_config_name_is_not_as_declared(self, tmp_path: Path) -> None:
        """A topic whose only difference is a config name the cluster does not know has a problem, so it is not
        counted among the topics already as declared (the others still are)."""
        cluster = FakeCluster({"notes": TopicState("notes", 1, 1), "logs": TopicState("logs", 1, 1)}, NAMES)
        found = plan(tmp_path, "  notes: {partitions: 1, config: {retention.msx: 5}}\n  logs: {partitions: 1}\n",
                     cluster)
        assert [p.path for p in found.problems] == ["topics.notes.config.retention.msx"]
        assert (found.changes, found.refusals, found.in_step) == ([], [], ["logs"])


