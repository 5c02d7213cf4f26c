"""store/held.py: which failed jobs hold their key, what is said of them, and what skip answers, on a fake Redis.

The scripts' and RQ's own side (skip_held.lua, the requeue) run against a real Redis and stock workers in
tests/integration/test_held_keys.py.
"""

from __future__ import annotations

import base64
import zlib
from pathlib import Path
from typing import Any

import pytest
from redis_fakes import FakeRedis
from tables import make_table

from karafkad.routes.table import Route
from karafkad.store.held import HeldKey, HeldKeys, count_waiting, find_held, held_jobs, last_line
from karafkad.store.keys import (
    CHAIN_FIELD,
    chain_key,
    dependents_key,
    failed_key,
    job_key,
    results_key,
)

pytestmark = pytest.mark.usefixtures("isolated_imports")

ERROR = "Traceback (most recent call last):\n  File \"h.py\", line 2, in handle\nValueError: no such customer\n"


def _route(tmp_path: Path, on_failure: str = "hold", ordering: str = "key") -> Route:
    ordered = {"ordering": ordering, "on_failure": on_failure} if ordering != "none" else {}
    table = make_table(tmp_path, {"g": {"routes": [
        {"name": "orders", "topic": "t", "handler": "h.handle", "queue": "q", **ordered},
        {"name": "audit", "topic": "t", "handler": "h.handle", "queue": "q"}]}})
    return next(r for r in table.routes if r.name == "orders")


def _job(route: Route, offset: int) -> str:
    return f"{route.id_prefixes['t']}-0-{offset}"


def _chain(route: Route) -> str:
    return chain_key(f"{route.id_prefixes['t']}:0")


def _fail(client: FakeRedis, route: Route, offset: int, chain: bytes = b"k:a", *, waiting: tuple[int, ...] = (),
          last: bool = False, failed_at: float = 100.0, results: bool = True) -> str:
    """A failed job of `route` as RQ leaves it: in the failed registry, its hash, its latest result; the jobs at
    `waiting` in line behind it (each the dependent of the one before); `last`: its chain's last job."""
    job_id = _job(route, offset)
    client.zsets.setdefault(failed_key("q"), {})[job_id.encode()] = failed_at
    client.hashes[job_key(job_id)] = {CHAIN_FIELD.encode(): _chain(route).encode() + b"\n" + chain,
                                      b"ended_at": b"2026-11-30T08:00:00.250000Z", b"status": b"failed"}
    if results:
        client.streams[results_key(job_id)] = [(b"1-0", {b"type": b"2", b"exc_string":
                                                         base64.b64encode(zlib.compress(ERROR.encode()))})]
    parent = job_id
    for later in waiting:
        client.sets.setdefault(dependents_key(parent), set()).add(_job(route, later).encode())
        parent = _job(route, later)
    if last:
        client.hashes.setdefault(_chain(route), {})[chain] = (parent if waiting else job_id).encode()
    return job_id


class TestFindHeld:
    def test_a_failed_job_that_others_wait_for_holds_its_key(self, tmp_path: Path) -> None:
        """Its route, partition, key, id, when it failed, the last line of its error, and the jobs in line."""
        route = _route(tmp_path)
        client = FakeRedis()
        job_id = _fail(client, route, 3, waiting=(5, 8), last=True)
        [held] = find_held(client, [route]).keys  # type: ignore[arg-type]
        assert (held.group, held.route, held.topic, held.partition, held.key, held.job_id) == (
            "g", "orders", "t", 0, b"a", job_id)
        assert (held.failed_at, held.error, held.waiting, held.counted_all) == (
            1_796_025_600_250, "ValueError: no such customer", 2, True)

    @pytest.mark.parametrize(("on_failure", "held"), [("hold", 1), ("skip", 0)])
    def test_a_failed_last_job_holds_its_key_on_a_hold_route_only(self, tmp_path: Path, on_failure: str,
                                                                  held: int) -> None:
        """Nothing waits for it yet, but the key's next message would (hold); on a skip route it would not."""
        route = _route(tmp_path, on_failure)
        client = FakeRedis()
        _fail(client, route, 3, last=True)
        assert len(find_held(client, [route]).keys) == held  # type: ignore[arg-type]

    def test_a_failed_job_nothing_waits_for_holds_nothing(self, tmp_path: Path) -> None:
        """Skipped before (no dependents, no longer its chain's last job): it stays failed, but holds no key."""
        route = _route(tmp_path)
        client = FakeRedis()
        _fail(client, route, 3)
        client.hashes[_chain(route)] = {b"k:a": _job(route, 9).encode()}
        assert find_held(client, [route]).keys == []  # type: ignore[arg-type]

    def test_other_routes_jobs_and_jobs_without_a_chain_are_passed_over(self, tmp_path: Path) -> None:
        """A failed job of another route of the queue, and one of this route's prefix without karafkad_chain, are
        not read as held keys (only the first even has its hash read)."""
        route = _route(tmp_path)
        client = FakeRedis()
        client.zsets[failed_key("q")] = {b"kd-other-0-1": 1.0, _job(route, 4).encode(): 2.0}
        client.sets[dependents_key("kd-other-0-1")] = {b"x"}
        client.hashes[job_key(_job(route, 4))] = {b"status": b"failed"}
        client.sets[dependents_key(_job(route, 4))] = {b"y"}
        assert find_held(client, [route]).keys == []  # type: ignore[arg-type]

    def test_only_the_newest_failed_jobs_are_read_and_the_others_counted(self, tmp_path: Path) -> None:
        """With a limit of 2, the two newest failures are read; the oldest, which holds a key, is left unread."""
        route = _route(tmp_path)
        client = FakeRedis()
        _fail(client, route, 1, b"k:old", waiting=(10,), failed_at=1.0)
        newest = _fail(client, route, 2, b"k:new", waiting=(11,), failed_at=3.0)
        _fail(client, route, 3, b"k:mid", failed_at=2.0)
        scan = find_held(client, [route], scan_limit=2)  # type: ignore[arg-type]
        assert [key.job_id for key in scan.keys] == [newest]
        assert (scan.failed, scan.read, scan.unread) == ({"q": 3}, {"q": 2}, {"q": 1})

    def test_the_round_trips_do_not_grow_with_the_failed_jobs(self, tmp_path: Path) -> None:
        """Forty held keys, each with one job in line: the registries, the hashes, the chains and results, then
        one per step of the count (two: the job in line, then nothing behind it)."""
        route = _route(tmp_path)
        client = FakeRedis()
        for n in range(40):
            _fail(client, route, n, f"k:{n}".encode(), waiting=(1000 + n,))
        assert len(find_held(client, [route]).keys) == 40  # type: ignore[arg-type]
        assert client.round_trips == 5

    def test_no_ordered_route_reads_nothing(self, tmp_path: Path) -> None:
        """A route without ordering has no chain to hold: nothing is asked of Redis but the empty count."""
        route = _route(tmp_path, ordering="none")
        client = FakeRedis()
        scan = find_held(client, [route])  # type: ignore[arg-type]
        assert (scan.keys, scan.failed) == ([], {})


class TestError:
    def _held(self, tmp_path: Path, client: FakeRedis) -> HeldKey:
        [held] = find_held(client, [_route(tmp_path)]).keys  # type: ignore[arg-type]
        return held

    def test_without_a_result_the_hash_s_exc_info_is_read(self, tmp_path: Path) -> None:
        """Earlier RQ versions kept the exception in the job hash, compressed."""
        route = _route(tmp_path)
        client = FakeRedis()
        job_id = _fail(client, route, 3, last=True, results=False)
        client.hashes[job_key(job_id)][b"exc_info"] = zlib.compress(b"Traceback...\nKeyError: 'sku'\n")
        assert self._held(tmp_path, client).error == "KeyError: 'sku'"

    def test_an_uncompressed_exc_info_is_read_as_text(self, tmp_path: Path) -> None:
        """RQ falls back to plain text when the field is not a zlib stream; so does this."""
        route = _route(tmp_path)
        client = FakeRedis()
        job_id = _fail(client, route, 3, last=True, results=False)
        client.hashes[job_key(job_id)][b"exc_info"] = b"TimeoutError: took too long"
        assert self._held(tmp_path, client).error == "TimeoutError: took too long"

    def test_a_latest_result_that_is_not_a_failure_says_no_error(self, tmp_path: Path) -> None:
        """A result of another type (a retry's) carries no exception: the error is empty, not made up."""
        route = _route(tmp_path)
        client = FakeRedis()
        job_id = _fail(client, route, 3, last=True, results=False)
        client.streams[results_key(job_id)] = [(b"1-0", {b"type": b"4"})]
        assert self._held(tmp_path, client).error == ""

    def test_the_last_line_that_says_something(self) -> None:
        """Trailing blank lines and indentation are not the error."""
        assert last_line("Traceback\n  File x\nValueError: bad\n\n  \n") == "ValueError: bad"
        assert last_line("") == ""


class TestCountWaiting:
    def test_the_jobs_in_line_are_counted_through_each_one_s_dependents(self) -> None:
        """a <- b <- c, and d alone: 2 and 0, one round trip per step."""
        client = FakeRedis()
        client.sets[dependents_key("a")] = {b"b"}
        client.sets[dependents_key("b")] = {b"c"}
        assert count_waiting(client, ["a", "d"]) == [(2, True), (0, True)]  # type: ignore[arg-type]
        assert client.round_trips == 3

    def test_the_count_stops_at_its_limit_and_says_so(self) -> None:
        """Past the limit the count is the limit and not complete; a cycle does not loop."""
        client = FakeRedis()
        for n in range(10):
            client.sets[dependents_key(f"j{n}")] = {f"j{n + 1}".encode()}
        client.sets[dependents_key("x")] = {b"y"}
        client.sets[dependents_key("y")] = {b"x"}
        assert count_waiting(client, ["j0", "x"], limit=4) == [(4, False), (1, True)]  # type: ignore[arg-type]


class TestHeldKey:
    @pytest.mark.parametrize(("chain", "ordering", "shown"), [
        (b"k:caf\xc3\xa9", "key", "café"), (b"k:\xff\x00a", "key", "\\xff\x00a"), (b"p", "key", "(null key)"),
        (b"p", "partition", "(partition)")])
    def test_the_key_as_people_read_it(self, chain: bytes, ordering: str, shown: str) -> None:
        """Text as it is, other bytes escaped; the partition's chain named for what it is on the route."""
        held = HeldKey("g", "r", "t", 0, chain, "j", 0, "", 3, ordering=ordering)
        assert held.shown_key == shown

    def test_as_json_the_time_is_readable_and_the_count_says_if_complete(self) -> None:
        """`failed_at` in UTC words and ms, `-` when not known."""
        held = HeldKey("g", "r", "t", 2, b"k:a", "j", 1_796_025_600_000, "E", 100, counted_all=False)
        assert held.as_dict() == {"group": "g", "route": "r", "topic": "t", "partition": 2, "key": "a", "job": "j",
                                  "failed_at": "2026-11-30 08:00:00Z", "failed_at_ms": 1_796_025_600_000,
                                  "error": "E", "waiting": 100, "counted_all": False}
        assert held.shown_waiting == "100+"
        assert HeldKey("g", "r", "t", 2, b"k:a", "j", 0, "", 1).as_dict()["failed_at"] == "-"


class TestHeldJobs:
    def test_each_job_named_holds_its_key_or_says_why_not(self, tmp_path: Path) -> None:
        """Held; failed but holding nothing; queued; gone; not a job of an ordered route."""
        route = _route(tmp_path)
        client = FakeRedis()
        held = _fail(client, route, 1, waiting=(2,))
        loose = _fail(client, route, 3, b"k:b")
        client.hashes[job_key(_job(route, 4))] = {b"status": b"queued"}
        answers = held_jobs(client, [route], [held, loose, _job(route, 4), _job(route, 5), "kd-x-0-1"])  # type: ignore[arg-type]
        assert isinstance(answers[held], HeldKey) and answers[held].waiting == 1
        assert answers[loose] == ("failed, but no job waits for it and it is not its key's last job (skipped "
                                  "before?)")
        assert answers[_job(route, 4)] == "not failed (its status: queued)"
        assert answers[_job(route, 5)] == "no such job (RQ deleted it, or it never was)"
        assert answers["kd-x-0-1"] == "no job of an ordered route of the routes file"


class TestSkip:
    @pytest.mark.parametrize(("answer", "refused", "queued", "untied"), [
        ([b"skipped", 0, b"j2"], "", ("j2",), False),
        ([b"skipped", 1], "", (), True),
        ([b"not-failed", b"queued"], "not failed (its status: queued): it holds no key", (), False),
        ([b"unordered"], "no job of an ordered route (it names no chain): it holds no key", (), False),
        ([b"gone"], "no such job (RQ deleted it, or it never was)", (), False)])
    def test_the_script_s_answer_becomes_a_release(self, answer: list[Any], refused: str, queued: tuple[str, ...],
                                                   untied: bool) -> None:
        """What skip_held.lua answers, in words; it is given the job, a timestamp and RQ's key prefixes."""
        client = FakeRedis()
        client.script_answers.append(answer)
        release = HeldKeys(client).skip("j1")  # type: ignore[arg-type]
        assert (release.job_id, release.refused, release.queued, release.untied) == ("j1", refused, queued, untied)
        [(keys, args)] = client.script_calls
        assert keys == ["rq:job:"] and args[0] == "j1" and args[2:] == ["rq:failed:", "rq:deferred:", "rq:queue:"]
        assert args[1].endswith("Z")
