"""web/deployment.py: the deployment as a console shows it: Redis's daemons read at most once a second, this
daemon's fresh snapshot in place of its published one, and the sums over the daemons."""

from __future__ import annotations

from typing import Any

import redis

from karafkad.store.instances import Instance
from karafkad.web import deployment
from karafkad.web.deployment import Deployment


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def snap(name: str, **parts: Any) -> dict[str, Any]:
    return {"instance": {"name": name}, "generated_at": 100.0, **parts}


class TestDeployment:
    def test_this_daemon_first_then_the_others_then_the_gone(self) -> None:
        """Its own published snapshot is replaced by the fresh one; Redis is read once per second."""
        clock, reads = Clock(), []

        def read() -> list[Instance]:
            reads.append(1)
            return [Instance("b", 90.0, snap("b")), Instance("me", 80.0, snap("me", stale=True)),
                    Instance("a", 10.0, None)]

        found = Deployment(read, clock)
        view = found.view(snap("me", fresh=True))
        assert [(m.name, m.own, m.gone) for m in view.members] == [("me", True, False), ("b", False, False),
                                                                    ("a", False, True)]
        assert view.members[0].snapshot == snap("me", fresh=True)
        assert [name for name, _ in view.live] == ["me", "b"]
        found.view(snap("me"))
        assert len(reads) == 1
        clock.now += 1
        found.view(snap("me"))
        assert len(reads) == 2

    def test_a_redis_that_cannot_be_read_leaves_this_daemon_alone_and_says_why(self) -> None:
        """A Redis that cannot be read leaves this daemon alone and says why."""
        def down() -> list[Instance]:
            raise redis.ConnectionError("refused redis://u:hunter2@db/0")

        view = Deployment(down, Clock()).view(snap("me"))
        assert [m.name for m in view.members] == ["me"]
        assert view.error is not None and "hunter2" not in view.error


class TestSums:
    def test_routes_add_up_over_the_daemons_of_their_group(self) -> None:
        """Routes add up over the daemons of their group."""
        route = {"group": "g", "name": "r", "topics": ["t"], "queue": "q"}
        live = [("a", snap("a", routes=[{**route, "consumed": 5.0, "enqueued": 4.0, "skipped": {"filtered": 1.0},
                                         "dead_lettered": {}, "rates": {"consumed": 1.0, "enqueued": 1.0}}])),
                ("b", snap("b", routes=[{**route, "consumed": 7.0, "enqueued": 7.0, "skipped": {"filtered": 2.0},
                                         "dead_lettered": {"decode": 1.0}, "rates": None}]))]
        [summed] = deployment.routes(live)
        assert (summed["consumed"], summed["enqueued"], summed["skipped"], summed["dead_lettered"]) == (
            12.0, 11.0, {"filtered": 3.0}, {"decode": 1.0})
        assert summed["rates"] == {"consumed": 1.0, "enqueued": 1.0} and summed["instances"] == ["a", "b"]

    def test_each_partition_names_its_daemon(self) -> None:
        """Each partition names its daemon."""
        live = [("b", snap("b", partitions=[{"group": "g", "topic": "t", "partition": 1}])),
                ("a", snap("a", partitions=[{"group": "g", "topic": "t", "partition": 0}]))]
        assert [(p["partition"], p["instance"]) for p in deployment.partitions(live)] == [(0, "a"), (1, "b")]

    def test_queue_depths_are_the_latest_reading_and_an_error_only_when_none_could_read(self) -> None:
        """Queue depths are the latest reading and an error only when none could read."""
        older = {**snap("a", queues={"depths": {"q": 5}, "error": None}), "generated_at": 1.0}
        newer = {**snap("b", queues={"depths": {"q": 3}, "error": None}), "generated_at": 2.0}
        broken = snap("c", queues={"depths": None, "error": "Redis: down"})
        assert deployment.queues([("b", newer), ("a", older), ("c", broken)]) == ({"q": 3}, None)
        assert deployment.queues([("c", broken)]) == (None, "Redis: down")

    def test_problems_newest_first_with_their_daemon(self) -> None:
        """Problems newest first with their daemon."""
        live = [("a", snap("a", recent=[{"time": 1.0, "message": "old"}])),
                ("b", snap("b", recent=[{"time": 2.0, "message": "new"}]))]
        assert [(p["message"], p["instance"]) for p in deployment.problems(live)] == [("new", "b"), ("old", "a")]
