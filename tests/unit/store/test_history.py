"""store/history.py: each daemon adds its share of the deployment's numbers per step (counts add up, readings
replace the daemon's own earlier share of the step), in chunks of bounded size that expire."""

from __future__ import annotations

import pytest
import redis
from redis_fakes import FakeRedis

from karafkad.store import history
from karafkad.store.history import HistoryWriter, Sample
from karafkad.store.keys import HISTORY_PREFIX, HISTORY_SERIES_KEY, history_key

STEP = history.STEP


def points(client: FakeRedis, since: float, now: float) -> dict[str, list[tuple[float, int]]]:
    return history.read(client, since, now)  # type: ignore[arg-type]


class TestSeriesNames:
    def test_the_subject_comes_last_so_it_may_hold_colons(self) -> None:
        """The subject comes last so it may hold colons."""
        name = history.series_name("group", "shop:eu", "consumed")
        assert name == "group:consumed:shop:eu"
        assert history.parse_series(name) == ("group", "shop:eu", "consumed")
        assert history.parse_series("nonsense") is None


class TestHistory:
    def test_counts_are_the_increase_since_the_last_sample(self) -> None:
        """A daemon's counter since its start becomes, step by step, what was counted in that step."""
        client, writer, name = FakeRedis(), HistoryWriter(), "group:consumed:g"
        for at, total in ((1000.0, 50), (1010.0, 80), (1020.0, 80)):
            writer.write(client, Sample({name: total}, {}, {}), at)  # type: ignore[arg-type]
        assert points(client, 1000.0, 1020.0)[name] == [(1000.0, 50), (1010.0, 30), (1020.0, 0)]

    def test_two_daemons_counts_add_up_and_a_reset_counts_from_zero(self) -> None:
        """Two daemons counts add up and a reset counts from zero."""
        client, a, b, name = FakeRedis(), HistoryWriter(), HistoryWriter(), "group:consumed:g"
        a.write(client, Sample({name: 10}, {}, {}), 1000.0)  # type: ignore[arg-type]
        b.write(client, Sample({name: 5}, {}, {}), 1001.0)  # type: ignore[arg-type]
        a.write(client, Sample({name: 3}, {}, {}), 1010.0)  # type: ignore[arg-type]  # restarted metric: 3 new
        assert points(client, 1000.0, 1010.0)[name] == [(1000.0, 15), (1010.0, 3)]

    def test_a_reading_is_the_sum_of_each_daemons_latest_in_the_step(self) -> None:
        """Two samples of one daemon in a step: its second replaces its first; another daemon's adds."""
        client, a, b, name = FakeRedis(), HistoryWriter(), HistoryWriter(), "group:lag:g"
        a.write(client, Sample({}, {name: 100}, {}), 1000.0)  # type: ignore[arg-type]
        b.write(client, Sample({}, {name: 7}, {}), 1002.0)  # type: ignore[arg-type]
        a.write(client, Sample({}, {name: 40}, {}), 1005.0)  # type: ignore[arg-type]
        a.write(client, Sample({}, {name: 0}, {}), 1010.0)  # type: ignore[arg-type]
        assert points(client, 1000.0, 1010.0)[name] == [(1000.0, 47), (1010.0, 0)]

    def test_a_shared_reading_is_the_last_written(self) -> None:
        """A shared reading is the last written."""
        client, a, b, name = FakeRedis(), HistoryWriter(), HistoryWriter(), "queue:depth:q"
        a.write(client, Sample({}, {}, {name: 9}), 1000.0)  # type: ignore[arg-type]
        b.write(client, Sample({}, {}, {name: 8}), 1001.0)  # type: ignore[arg-type]
        assert points(client, 1000.0, 1001.0)[name] == [(1000.0, 8)]

    def test_memory_is_bounded_chunks_below_the_listpack_size_that_expire(self) -> None:
        """A chunk holds at most CHUNK_STEPS fields (< 128: a compact listpack) and expires KEPT after its end;
        the series list forgets what was not written for KEPT. One round trip per sample."""
        assert history.CHUNK_STEPS < 128
        client, writer, name = FakeRedis(), HistoryWriter(), "group:consumed:g"
        start = 12_000.0 * STEP * history.CHUNK_STEPS / STEP  # a chunk boundary
        for n in range(history.CHUNK_STEPS + 3):
            writer.write(client, Sample({name: n}, {}, {}), start + n * STEP)  # type: ignore[arg-type]
        chunks = [k for k in client.hashes if k.startswith(HISTORY_PREFIX)]
        assert len(chunks) == 2 and max(len(client.hashes[k]) for k in chunks) == history.CHUNK_STEPS
        assert {client.ttls[k] for k in chunks} == {history.KEPT + STEP * history.CHUNK_STEPS}
        assert client.round_trips == history.CHUNK_STEPS + 3
        writer.write(client, Sample({"group:consumed:h": 1}, {}, {}), start + history.KEPT * 2)  # type: ignore[arg-type]
        assert set(client.zsets[HISTORY_SERIES_KEY]) == {b"group:consumed:h"}

    def test_read_gives_only_the_span_asked_and_gaps_stay_gaps(self) -> None:
        """Read gives only the span asked and gaps stay gaps."""
        client, writer, name = FakeRedis(), HistoryWriter(), "group:lag:g"
        for at in (1000.0, 1010.0, 1040.0):
            writer.write(client, Sample({}, {name: int(at)}, {}), at)  # type: ignore[arg-type]
        assert points(client, 1005.0, 1050.0)[name] == [(1010.0, 1010), (1040.0, 1040)]
        assert history_key(name, int(1000 // STEP // history.CHUNK_STEPS)) in client.hashes

    def test_a_failed_write_is_counted_again_next_time(self) -> None:
        """Redis down at a sample: nothing of it counts as written; the next adds the whole increase."""
        client, writer, name = FakeRedis(), HistoryWriter(), "group:consumed:g"
        writer.write(client, Sample({name: 10}, {}, {}), 1000.0)  # type: ignore[arg-type]
        client.fail = redis.ConnectionError("down")
        with pytest.raises(redis.ConnectionError):
            writer.write(client, Sample({name: 25}, {}, {}), 1010.0)  # type: ignore[arg-type]
        client.fail = None
        writer.write(client, Sample({name: 30}, {}, {}), 1020.0)  # type: ignore[arg-type]
        assert points(client, 1000.0, 1020.0)[name] == [(1000.0, 10), (1020.0, 20)]

    def test_each_series_gets_its_own_points(self) -> None:
        """Series written in one order and read back by name: each keeps its own values (the pipeline's answers
        are matched to the series in the order they were asked)."""
        client, writer = FakeRedis(), HistoryWriter()
        writer.write(client, Sample({}, {}, {"queue:depth:z": 9}), 1000.0)  # type: ignore[arg-type]
        writer.write(client, Sample({}, {}, {"queue:depth:a": 1}), 1001.0)  # type: ignore[arg-type]
        assert points(client, 1000.0, 1000.0) == {"queue:depth:a": [(1000.0, 1)], "queue:depth:z": [(1000.0, 9)]}
