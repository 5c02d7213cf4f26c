"""consuming/deciding.py: a poll's records as batches, a replay window's records under the window's routes, ids
and mark, the others as usual (trace contexts carried alike); the position after the poll on each partition's
last batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loop_fakes import TP0, TP1, FakeEnqueuer
from tables import make_record, make_table, records

from karafkad.consuming.deciding import decide
from karafkad.consuming.delivery import Delivered
from karafkad.consuming.marks_cache import Marks
from karafkad.pipeline.steps import Pipeline
from karafkad.store.replays import ReplayWindow

ROUTES = [{"name": "a", "topic": "t", "handler": "h.handle", "queue": "q"},
          {"name": "b", "topic": "t", "handler": "h.handle", "queue": "q"}]


def _decide(tmp_path: Path, polled: dict[Any, Any], enqueuer: FakeEnqueuer,
            positions: dict[Any, int] | None = None) -> Delivered:
    """decide() over group g's two routes (a and b), with the marks and windows `enqueuer` has."""
    group = make_table(tmp_path, {"g": {"routes": ROUTES}}).groups["g"]
    marks = Marks("g", enqueuer)  # type: ignore[arg-type]
    marks.load(polled)
    return decide(Pipeline(group, 1_000_000), marks, polled, lambda tp: (positions or {}).get(tp, -1))


class TestDecide:
    def test_records_inside_a_replay_window_are_run_again_under_its_ids_and_mark(self, tmp_path: Path) -> None:
        """Window [0, 2) for route b only: offsets 0-1 make b's jobs ending -r7 under mark r7; offset 2 and on go
        through every route as usual, under the partition's own mark."""
        enqueuer = FakeEnqueuer(marks={("g", "t", 0): 1})  # the first run had handled 0 and 1
        enqueuer.windows[("t", 0)] = ReplayWindow(7, 0, 2, ("b",))
        (_, replayed), (_, rest) = _decide(tmp_path, {TP0: records([{"n": 0}, {"n": 1}, {"n": 2}])}, enqueuer)
        assert (replayed.stream, rest.stream) == ("r7", "")
        assert [(j.route, j.offset, j.job_id.endswith("-r7")) for j in replayed.jobs] == [("b", 0, True),
                                                                                         ("b", 1, True)]
        assert sorted((j.route, j.offset) for j in rest.jobs) == [("a", 2), ("b", 2)]
        assert (replayed.last_offset, rest.last_offset, rest.commit_offset) == (1, 2, 3)

    def test_a_replay_resumes_above_its_own_mark_after_a_crash(self, tmp_path: Path) -> None:
        """The window's mark says how far the replay got: what is at or below it makes no job again."""
        enqueuer = FakeEnqueuer(marks={("g", "t", 0): 4, ("g", "t", 0, "r2"): 1})
        enqueuer.windows[("t", 0)] = ReplayWindow(2, 0, 5)
        [(_, batch)] = _decide(tmp_path, {TP0: records([{"n": n} for n in range(5)])}, enqueuer)
        assert batch.stream == "r2"
        assert sorted({j.offset for j in batch.jobs}) == [2, 3, 4]

    def test_records_around_a_window_go_through_every_route_in_one_batch(self, tmp_path: Path) -> None:
        """Records before and after the window are one batch under the partition's own mark; the records of a
        window elsewhere in the partition are not touched by it."""
        enqueuer = FakeEnqueuer()
        enqueuer.windows[("t", 0)] = ReplayWindow(3, 1, 2, ("b",))
        enqueuer.windows[("t", 1)] = ReplayWindow(4, 50, 60)
        batches = _decide(tmp_path, {TP0: records([{"n": n} for n in range(3)]),
                                     TP1: records([{"n": 9}], partition=1, start=7)}, enqueuer)
        assert [(tp.partition, b.stream, sorted({j.offset for j in b.jobs})) for tp, b in batches] == [
            (0, "r3", [1]), (0, "", [0, 2]), (1, "", [7])]

    def test_a_partition_s_last_batch_carries_its_position_after_the_poll(self, tmp_path: Path) -> None:
        """The position (past a transaction marker here) goes on the partition's last batch, whose commit offset
        it becomes; a position not known leaves the commit offset at the last record + 1."""
        enqueuer = FakeEnqueuer()
        enqueuer.windows[("t", 0)] = ReplayWindow(5, 0, 1)
        batches = _decide(tmp_path, {TP0: records([{"n": 0}, {"n": 1}]), TP1: records([{"n": 0}], partition=1)},
                          enqueuer, positions={TP0: 4})
        assert [(tp.partition, b.next_offset, b.commit_offset) for tp, b in batches] == [
            (0, -1, 1), (0, 4, 4), (1, -1, 1)]

    def test_a_replayed_message_s_job_continues_its_trace(self, tmp_path: Path) -> None:
        """A replay reads the message again with its headers: its new job (under the window's id) carries the
        trace context in its meta, exactly as the first run's job did (docs/tracing.md)."""
        traceparent = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        record = make_record(0, b'{"n": 0}', headers=[("traceparent", traceparent), ("baggage", b"u=1")])
        first = _decide(tmp_path, {TP0: [record]}, FakeEnqueuer())[0][1]
        enqueuer = FakeEnqueuer(marks={("g", "t", 0): 0})
        enqueuer.windows[("t", 0)] = ReplayWindow(7, 0, 1, ("b",))
        [(_, replayed)] = _decide(tmp_path, {TP0: [record]}, enqueuer)
        expected = b'{"traceparent": "' + traceparent + b'", "baggage": "u=1"}'
        assert [j.meta for j in first.jobs] == [expected, expected]
        assert [(j.route, j.job_id.endswith("-r7"), j.meta) for j in replayed.jobs] == [("b", True, expected)]
