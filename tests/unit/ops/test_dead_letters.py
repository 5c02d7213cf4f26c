"""ops/dead_letters.py: repeats of a message's dead letters, and what a re-drive writes and notes (Redis faked)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from redis_fakes import RecordingRedis
from tables import make_record, make_table

from karafkad.ops.dead_letters import Redriver, Repeats
from karafkad.routes.table import RouteTable
from karafkad.store.dead_letter_headers import StoredDeadLetter
from karafkad.store.enqueuer import PartitionWrite, WriteResult
from karafkad.store.keys import EVENTS_KEY

TAGGED = {"type": "object", "required": ["tag"]}
"""A schema the test messages ({"n": ...}) fail."""


def _table(tmp_path: Path, a: dict[str, Any] | None = None, b: dict[str, Any] | None = None) -> RouteTable:
    """Routes a and b on topic t, dead-lettering to d; `a` and `b` add to each (a schema, a filter)."""
    return make_table(tmp_path, {"g": {"routes": [
        {"name": "a", "topic": "t", "handler": "h.handle", "dead_letter": "d", **(a or {})},
        {"name": "b", "topic": "t", "handler": "h.handle", "dead_letter": "d", **(b or {})}]}})


def _letter(offset: int, origin: int, routes: tuple[str, ...] = ("a",), *, partition: int = 0) -> StoredDeadLetter:
    """A dead letter at d[partition]@offset of the message t[0]@origin, which passes the routes now."""
    original = make_record(origin, json.dumps({"n": origin}).encode())
    return StoredDeadLetter("d", partition, offset, 1_700_000_000_000 + offset, "g", routes, "schema", "bad",
                            original)


class FakeEnqueuer:
    """Takes the writes; every job is written (the script's dedupe is the integration tests')."""

    window = 600
    settings = None

    def __init__(self, client: RecordingRedis) -> None:
        self.client = client
        self.parts: list[PartitionWrite] = []

    def write(self, parts: list[PartitionWrite]) -> WriteResult:
        self.parts += parts
        return WriteResult(sum(len(p.jobs) for p in parts), (), 0.0)


def _redriver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis: RecordingRedis, dry_run: bool = False,
              table: RouteTable | None = None, routes: tuple[str, ...] = ()) -> tuple[Redriver, FakeEnqueuer]:
    enqueuer = FakeEnqueuer(redis)
    redriver = Redriver(table or _table(tmp_path), lambda settings: redis, dry_run,  # type: ignore[arg-type,return-value]
                        routes)
    monkeypatch.setattr(redriver, "enqueuer", lambda group: enqueuer)
    return redriver, enqueuer


class TestRepeats:
    def test_a_second_dead_letter_of_the_same_message_and_route_repeats_the_first(self) -> None:
        """Same group, route and origin: a repeat of the first met; of another message or route, it is not."""
        repeats = Repeats()
        first = _letter(0, 7)
        assert repeats.meet(first) == (("a",), None)
        assert repeats.meet(_letter(1, 8)) == (("a",), None)
        assert repeats.meet(_letter(2, 7, ("b",))) == (("b",), None)
        assert repeats.meet(_letter(3, 7)) == ((), first)
        assert repeats.meet(_letter(4, 7, partition=1)) == ((), first)  # in another partition of the topic

    def test_a_dead_letter_naming_one_more_route_is_run_for_that_route_only(self) -> None:
        """An earlier dead letter named route a; a later one of the same message names a and b: only b is new."""
        repeats = Repeats()
        first = _letter(0, 7)
        repeats.meet(first)
        assert repeats.meet(_letter(1, 7, ("a", "b"))) == (("b",), None)  # run for b: no repeat


class TestRedriver:
    def test_two_dead_letters_of_one_message_make_one_job(self, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
        """The second is reported as a repeat of the first and not run; the job is marked done by its origin."""
        redriver, enqueuer = _redriver(tmp_path, monkeypatch, RecordingRedis())
        first, second = _letter(0, 7), _letter(5, 7)
        redriver.add(first)
        redriver.add(second)
        report = redriver.finish()
        assert (report.jobs, report.done, report.repeats) == (1, [first], [(second, first)])
        (part,) = enqueuer.parts
        assert (part.key, part.last_offset, part.each) == ("karafkad:done:g:t:0:redrive:a", 7, True)
        assert [job.offset for job in part.jobs] == [7]
        assert part.jobs[0].job_id.endswith("-0-7-d0_0")  # the id names the dead letter it came from

    def test_a_dead_letter_of_two_routes_makes_a_job_for_each(self, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """One mark per route: the second route's job is not taken for a repeat of the first's."""
        redriver, enqueuer = _redriver(tmp_path, monkeypatch, RecordingRedis())
        redriver.add(_letter(0, 7, ("a", "b")))
        assert redriver.finish().jobs == 2
        assert [p.key for p in enqueuer.parts] == ["karafkad:done:g:t:0:redrive:a", "karafkad:done:g:t:0:redrive:b"]

    def test_a_dry_run_counts_the_repeats_too(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Nothing is written or noted, and the summary says what would be."""
        redis = RecordingRedis()
        redriver, enqueuer = _redriver(tmp_path, monkeypatch, redis, dry_run=True)
        for offset in range(4):
            redriver.add(_letter(offset, offset % 2))
        report = redriver.finish()
        assert (report.jobs, len(report.repeats), enqueuer.parts, redis.commands) == (2, 2, [], [])
        assert report.summary(dry_run=True).startswith("2 dead letters would become 2 jobs; 0 already re-driven "
                                                       "before; 2 repeats of an earlier dead letter")

    def test_a_dead_letter_an_earlier_version_redrove_is_not_redriven_and_its_message_is_marked(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The old mark (by the dead letter's place) counts as re-driven before; its message gets the new mark,
        so a later repeat of it is not re-driven either."""
        redis = RecordingRedis({("karafkad:done:g:d:0:redrive", "3")})
        redriver, enqueuer = _redriver(tmp_path, monkeypatch, redis)
        old, new = _letter(3, 7), _letter(4, 8)
        redriver.add(old)
        redriver.add(new)
        report = redriver.finish()
        assert (report.already, report.done, report.jobs) == ([old], [new], 1)
        assert [p.last_offset for p in enqueuer.parts] == [8]
        assert ("hset", "karafkad:done:g:t:0:redrive:a", "7", "1") in redis.commands
        assert ("expire", "karafkad:done:g:t:0:redrive:a", 600) in redis.commands

    def test_an_earlier_versions_mark_of_a_two_route_dead_letter_covers_its_first_route_only(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """An earlier version made one job of a dead letter naming a and b (one mark served both routes): b's
        job is made now, a's is not made again."""
        redis = RecordingRedis({("karafkad:done:g:d:0:redrive", "3")})
        redriver, enqueuer = _redriver(tmp_path, monkeypatch, redis)
        letter = _letter(3, 7, ("a", "b"))
        redriver.add(letter)
        report = redriver.finish()
        assert (report.done, report.already, report.jobs) == ([letter], [], 1)
        assert [p.key for p in enqueuer.parts] == ["karafkad:done:g:t:0:redrive:b"]
        assert ("hset", "karafkad:done:g:t:0:redrive:a", "7", "1") in redis.commands

    def test_a_dry_run_reads_the_marks_of_earlier_runs(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """What a real run would find: a message re-driven before (from any of its dead letters), or by an
        earlier version, is counted as such, not as a job to be made; nothing is written."""
        redis = RecordingRedis({("karafkad:done:g:t:0:redrive:a", "7"), ("karafkad:done:g:d:0:redrive", "4")})
        redriver, enqueuer = _redriver(tmp_path, monkeypatch, redis, dry_run=True)
        again, old, fresh = _letter(3, 7), _letter(4, 8), _letter(5, 9)
        for letter in (again, old, fresh):
            redriver.add(letter)
        report = redriver.finish()
        assert (report.already, report.done, report.jobs) == ([again, old], [fresh], 1)
        assert (enqueuer.parts, redis.commands) == ([], [])

    def test_a_run_that_wrote_nothing_is_noted_with_its_zeros(self, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """Every finished run is an event on the status pages, so the operator sees the command ran."""
        redis = RecordingRedis()
        redriver, _ = _redriver(tmp_path, monkeypatch, redis)
        redriver.finish()
        (pushed,) = [c for c in redis.commands if c[0] == "lpush"]
        event = json.loads(pushed[2])
        assert pushed[1] == EVENTS_KEY and event["kind"] == "redrive"
        assert event["message"] == ("re-drive: 0 dead letters became 0 jobs; 0 already re-driven before; 0 repeats "
                                    "of an earlier dead letter of the same message; 0 still failing (kept); 0 made "
                                    "no job now (filtered or vetoed); 0 without their route")


class TestOneRouteFixed:
    """Routes a and b both rejected a message the same way: one dead letter names both. Only b is fixed."""

    def test_the_fixed_route_makes_its_job_and_the_other_is_still_failing_alone(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Not all or nothing: b's job is written (marked by origin for b), a is reported still failing, for a
        only, with its reason."""
        table = _table(tmp_path, a={"schema": TAGGED})
        redriver, enqueuer = _redriver(tmp_path, monkeypatch, RecordingRedis(), table=table)
        letter = _letter(0, 7, ("a", "b"))
        redriver.add(letter)
        report = redriver.finish()
        assert (report.jobs, report.done) == (1, [letter])
        (failing,) = report.failing
        assert (failing.letter, failing.routes) == (letter, ("a",))
        assert failing.reason == 'schema: (root): "tag" is a required property'
        assert [p.key for p in enqueuer.parts] == ["karafkad:done:g:t:0:redrive:b"]
        assert report.summary().startswith("1 dead letter became 1 job; 0 already re-driven before; 0 repeats of "
                                           "an earlier dead letter of the same message; 1 still failing (kept)")

    def test_route_b_alone_redrives_b_and_says_nothing_of_a(self, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
        """`--route b`: b's job, and a is neither run nor reported (the reproduction said "1 still failing")."""
        table = _table(tmp_path, a={"schema": TAGGED})
        redriver, enqueuer = _redriver(tmp_path, monkeypatch, RecordingRedis(), table=table, routes=("b",))
        redriver.add(_letter(0, 7, ("a", "b")))
        report = redriver.finish()
        assert (report.jobs, report.failing) == (1, [])
        assert [p.key for p in enqueuer.parts] == ["karafkad:done:g:t:0:redrive:b"]

    def test_route_a_alone_runs_a_only(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """`--route a` of the same letter: a still fails (reported for a), and b's job is not made."""
        table = _table(tmp_path, a={"schema": TAGGED})
        redriver, enqueuer = _redriver(tmp_path, monkeypatch, RecordingRedis(), table=table, routes=("a",))
        letter = _letter(0, 7, ("a", "b"))
        redriver.add(letter)
        report = redriver.finish()
        assert (report.jobs, report.done, enqueuer.parts) == (0, [], [])
        assert [(f.letter, f.routes) for f in report.failing] == [(letter, ("a",))]

    def test_a_repeat_for_the_chosen_route_is_a_repeat(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """With --route b, a later dead letter naming a and b of the same message repeats the first one that
        named b, even if the first named only b."""
        redriver, _ = _redriver(tmp_path, monkeypatch, RecordingRedis(), routes=("b",))
        first, second = _letter(0, 7, ("b",)), _letter(1, 7, ("a", "b"))
        redriver.add(first)
        redriver.add(second)
        report = redriver.finish()
        assert (report.jobs, report.repeats, report.orphans) == (1, [(second, first)], [])

    def test_a_dry_run_counts_the_fixed_routes_job_and_the_other_failing(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """What the real run would do, with nothing written."""
        table = _table(tmp_path, a={"schema": TAGGED})
        redis = RecordingRedis()
        redriver, enqueuer = _redriver(tmp_path, monkeypatch, redis, dry_run=True, table=table)
        redriver.add(_letter(0, 7, ("a", "b")))
        report = redriver.finish()
        assert (report.jobs, len(report.done), len(report.failing), enqueuer.parts, redis.commands) == (1, 1, 1, [],
                                                                                                     [])
