"""store/held.py: what is asked of the held-keys script and how its answer is read, the error of a failed job, the
key as people read it, and what skip answers, on a fake Redis.

The scripts themselves (held_scan.lua: which failed jobs hold their key, the count behind them; skip_held.lua)
and RQ's requeue run against a real Redis in tests/integration/test_held_keys.py.
"""

from __future__ import annotations

import base64
import zlib
from pathlib import Path
from typing import Any

import pytest
from redis_fakes import FakeRedis, held_scan_answer
from tables import make_table

from karafkad.routes.table import Route
from karafkad.store.held import HeldKey, HeldKeys, error_line, find_held, held_jobs, last_line
from karafkad.store.keys import chain_key, failed_key, job_key

pytestmark = pytest.mark.usefixtures("isolated_imports")


def _routes(tmp_path: Path, on_failure: str = "hold") -> list[Route]:
    """`orders` ordered by key on queue q (topics t and u), `audit` unordered on q, `payments` ordered on q2."""
    table = make_table(tmp_path, {"g": {"routes": [
        {"name": "orders", "topics": ["t", "u"], "handler": "h.handle", "queue": "q", "ordering": "key",
         "on_failure": on_failure},
        {"name": "audit", "topic": "t", "handler": "h.handle", "queue": "q"},
        {"name": "payments", "topic": "p", "handler": "h.handle", "queue": "q2", "ordering": "partition"}]}})
    return list(table.routes)


def _chain(route: Route, topic: str = "t", partition: int = 0, chain: str = "k:a") -> str:
    """A job hash's karafkad_chain field."""
    return f"{chain_key(route.id_prefixes[topic] + f':{partition}')}\n{chain}"


class TestFindHeld:
    def test_each_queue_is_asked_once_with_its_ordered_routes_prefixes(self, tmp_path: Path) -> None:
        """One script call per queue of an ordered route: its failed registry, the limit, the count's limit and
        budget, and each prefix of its ordered routes with whether a failed last job holds (hold: 1)."""
        orders, _, payments = _routes(tmp_path)
        client = FakeRedis()
        client.script_answers += [held_scan_answer(0, 0), held_scan_answer(0, 0)]
        find_held(client, [orders, payments], scan_limit=50, count_limit=7)  # type: ignore[arg-type]
        (keys_q, args_q), (_, args_q2) = client.script_calls
        assert keys_q == ["rq:job:", "rq:results:"]
        assert args_q == [failed_key("q"), 50, 7, 10_000, 2, orders.id_prefixes["t"], 1, orders.id_prefixes["u"], 1]
        assert args_q2 == [failed_key("q2"), 50, 7, 10_000, 1, payments.id_prefixes["p"], 1]
        assert client.round_trips == 2

    def test_the_answer_names_the_route_topic_partition_key_and_error(self, tmp_path: Path) -> None:
        """The route and topic come from the chain's job id prefix, the partition from the chain's name; the time
        in ms; the error is the exception's last line; the failed jobs left unread are counted."""
        orders, _, _ = _routes(tmp_path)
        client = FakeRedis()
        job = f"{orders.id_prefixes['u']}-3-17"
        client.script_answers.append(held_scan_answer(1500, 1000, (job, _chain(orders, "u", 3, "k:c9"), 4)))
        scan = find_held(client, [orders])  # type: ignore[arg-type]
        [held] = scan.keys
        assert (held.group, held.route, held.topic, held.partition, held.key, held.job_id) == (
            "g", "orders", "u", 3, b"c9", job)
        assert (held.failed_at, held.error, held.waiting, held.counted_all) == (
            1_796_025_600_250, "ValueError: no such customer", 4, True)
        assert (scan.failed, scan.read, scan.unread) == ({"q": 1500}, {"q": 1000}, {"q": 500})

    def test_a_job_naming_another_route_s_chain_is_passed_over(self, tmp_path: Path) -> None:
        """An id that looks like the route's but a chain hash of another prefix (or no chain key at all) is not
        taken for one of its keys."""
        orders, _, payments = _routes(tmp_path)
        client = FakeRedis()
        prefix = orders.id_prefixes["t"]
        client.script_answers.append(held_scan_answer(2, 2, (f"{prefix}-0-1", _chain(payments, "p"), 1),
                                                      (f"{prefix}-0-2", "nonsense\nk:a", 1)))
        assert find_held(client, [orders]).keys == []  # type: ignore[arg-type]

    def test_no_ordered_route_asks_nothing(self, tmp_path: Path) -> None:
        """A route without ordering holds no key: Redis is not asked."""
        _, audit, _ = _routes(tmp_path)
        client = FakeRedis()
        assert find_held(client, [audit]).keys == [] and client.round_trips == 0  # type: ignore[arg-type]


class TestErrorLine:
    EXC = "Traceback (most recent call last):\n  File \"h.py\", line 2\nValueError: no such customer\n"

    def test_the_latest_failed_result_is_read(self) -> None:
        """RQ 3: the results stream's exc_string, base64 of a zlib stream, of a result of type FAILED (2)."""
        assert error_line(b"2", base64.b64encode(zlib.compress(self.EXC.encode())), b"") == (
            "ValueError: no such customer")

    def test_without_a_failed_result_the_hash_s_exc_info_is_read(self) -> None:
        """Earlier RQ versions kept the exception in the job hash, compressed, or as plain text."""
        assert error_line(b"", b"", zlib.compress(b"Traceback...\nKeyError: 'sku'\n")) == "KeyError: 'sku'"
        assert error_line(b"", b"", b"TimeoutError: took too long") == "TimeoutError: took too long"

    def test_a_result_of_another_type_or_garbage_says_no_error(self) -> None:
        """A retried result carries no exception; an exc_string that is not base64 is not made into one."""
        assert error_line(b"4", base64.b64encode(zlib.compress(b"x: y")), b"") == ""
        assert error_line(b"2", b"%%%", b"") == ""

    def test_the_last_line_that_says_something(self) -> None:
        """Trailing blank lines and indentation are not the error."""
        assert last_line("Traceback\n  File x\nValueError: bad\n\n  \n") == "ValueError: bad"
        assert last_line("") == ""


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
        """Held; failed but holding nothing; queued; gone; not a job of an ordered route. Only the failed ones are
        given to the script, without a registry to read."""
        orders, _, _ = _routes(tmp_path)
        prefix = orders.id_prefixes["t"]
        held, loose, queued, gone = (f"{prefix}-0-{n}" for n in (1, 3, 4, 5))
        client = FakeRedis()
        for job_id in (held, loose):
            client.hashes[job_key(job_id)] = {b"status": b"failed"}
            client.zsets.setdefault(failed_key("q"), {})[job_id.encode()] = 1.0
        client.hashes[job_key(queued)] = {b"status": b"queued"}
        client.script_answers.append(held_scan_answer(0, 0, (held, _chain(orders), 1)))
        answers = held_jobs(client, [orders], [held, loose, queued, gone, "kd-x-0-1"])  # type: ignore[arg-type]
        assert isinstance(answers[held], HeldKey) and answers[held].waiting == 1
        assert answers[loose] == ("failed, but no job waits for it and it is not its key's last job (skipped "
                                  "before?)")
        assert answers[queued] == "not failed (its status: queued)"
        assert answers[gone] == "no such job (RQ deleted it, or it never was)"
        assert answers["kd-x-0-1"] == "no job of an ordered route of the routes file"
        [(_, args)] = client.script_calls
        assert args[:2] == ["", 0] and args[-2:] == [held, loose]


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
