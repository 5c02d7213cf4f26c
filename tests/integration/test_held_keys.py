"""Held keys: on a route with `ordering: key`, a job that fails for good holds its key and only its key; the
operator sees it (`karafkad held list`, the metric, the status page) and releases it (`held skip`, `held retry`).

The jobs run in stock `rq worker --burst` processes (RQ's, not karafkad's); the handler
(tests/fixtures/handlers/effects.py record_in_order) appends each message's number to a list per key, and
fails while its message is named in the set effects:failing.
"""

from __future__ import annotations

import base64
import json
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
from harness import (
    BOOTSTRAP,
    Daemon,
    create_topic,
    job_prefix,
    karafkad,
    redis_client,
    routes_yaml,
    rq_worker_burst,
    unique,
    wait_for,
    wait_until_consumed,
)

from karafkad import defaults
from karafkad.pipeline.records import PlainRecord
from karafkad.pipeline.steps import Pipeline
from karafkad.producer import Producer
from karafkad.routes.table import Route, RouteTable, load_routes
from karafkad.store.enqueuer import Enqueuer, PartitionWrite
from karafkad.store.held import HeldKeys, find_held
from karafkad.store.keys import (
    CHAIN_FIELD,
    EVENTS_KEY,
    chain_key,
    deferred_key,
    dependents_key,
    failed_key,
    job_key,
    queue_key,
    results_key,
)


def _send(topic: str, messages: list[tuple[str, int]]) -> None:
    """Each (key, n) as the JSON message {"k": key, "n": n} with that key, in this order."""
    with Producer(bootstrap_servers=BOOTSTRAP) as producer:
        for key, n in messages:
            producer.send_json(topic, {"k": key, "n": n}, key=key)


def _ran(key: str) -> list[int]:
    """The numbers of `key`'s messages in the order their jobs ran (and succeeded)."""
    return [int(n) for n in redis_client().lrange(f"effects:order:{key}", 0, -1)]


def _worker(queue: str) -> None:
    result = rq_worker_burst(queue)
    assert result.returncode == 0, result.stderr[-3000:]


def _held(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    action, *rest = args
    return karafkad("held", action, "-c", config, *rest)


def _listed(config: Path) -> dict[str, dict[str, Any]]:
    """`karafkad held list --json`, by key."""
    result = _held(config, "list", "--json")
    assert result.returncode == 0, result.stderr
    return {key["key"]: key for key in json.loads(result.stdout)["held_keys"]}


def _ordered_routes(tmp_path: Path, topic: str, queue: str, on_failure: str = "hold") -> tuple[Path, str]:
    """A routes file with one route `orders` ordered by key on `topic`; its path and group."""
    group = unique("g")
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [
        {"name": "orders", "topic": topic, "handler": "effects.record_in_order", "queue": queue,
         "ordering": "key", "on_failure": on_failure}]}}))
    return config, group


def test_a_failing_job_holds_only_its_key(tmp_path: Path) -> None:
    """Messages of keys a, b and c, interleaved; a:1 and b:1 fail. Only a and b stop there: c runs to its end.
    `held list`, the metric and the status page name both held keys (the failed job, its error, 3 waiting).
    `held skip` of a's job runs the rest of a in order without it (it stays in RQ's failed registry); `held retry`
    of b's key, after the handler is fixed, runs b:1 and then the rest of b in order. Both are noted among the
    recent operations; afterwards nothing is held and new messages of a and b run at once."""
    topic = create_topic(unique("held"))
    queue = unique("q")
    config, group = _ordered_routes(tmp_path, topic, queue)
    client = redis_client()
    client.sadd("effects:failing", "a:1", "b:1")
    daemon = Daemon(config).start().wait_ready()
    _send(topic, [(key, n) for n in range(5) for key in "abc"])  # a:n at offset 3n, b:n at 3n + 1
    wait_until_consumed(daemon, topic, group)
    _worker(queue)
    assert (_ran("a"), _ran("b"), _ran("c")) == ([0], [0], [0, 1, 2, 3, 4])

    prefix = job_prefix(group, topic, "orders")
    held = _listed(config)
    assert set(held) == {"a", "b"}
    assert (held["a"]["job"], held["b"]["job"]) == (f"{prefix}-0-3", f"{prefix}-0-4")
    assert held["a"]["route"] == "orders" and held["a"]["waiting"] == 3 and held["a"]["counted_all"]
    assert held["a"]["error"] == "RuntimeError: message a:1 fails on purpose"
    assert held["a"]["failed_at"] != "-"
    table = _held(config, "list").stdout
    assert f"{prefix}-0-3" in table and "RuntimeError: message b:1 fails on purpose" in table
    assert "2 held keys" in table

    wait_for(lambda: daemon.metric("karafkad_held_keys", route="orders") == 2, 40, "the metric counts 2 held keys")
    status = json.loads(daemon.get("/status.json")[1])
    assert {key["key"]: key["job"] for key in status["held_keys"]["keys"]} == {"a": f"{prefix}-0-3",
                                                                               "b": f"{prefix}-0-4"}
    page = daemon.get("/")[1]
    assert "Held keys" in page and f"{prefix}-0-3" in page and "2 keys held by a failed job" in page

    skipped = _held(config, "skip", held["a"]["job"])
    assert skipped.returncode == 0, skipped.stderr
    assert "the 3 jobs waiting behind it run now, in order" in skipped.stdout
    assert client.zscore(failed_key(queue), held["a"]["job"]) is not None  # the failed job stays failed
    _worker(queue)
    assert _ran("a") == [0, 2, 3, 4]
    assert _ran("b") == [0]  # still held

    client.srem("effects:failing", "b:1")
    retried = _held(config, "retry", "--route", "orders", "--key", "b")
    assert retried.returncode == 0, retried.stderr
    assert f"retried {prefix}-0-4" in retried.stdout
    _worker(queue)
    assert _ran("b") == [0, 1, 2, 3, 4]

    assert _listed(config) == {}
    kinds = [json.loads(event)["kind"] for event in client.lrange(EVENTS_KEY, 0, -1)]
    assert kinds[:2] == ["held-retry", "held-skip"]
    _send(topic, [("a", 5), ("b", 5)])
    wait_until_consumed(daemon, topic, group)
    _worker(queue)
    assert (_ran("a")[-1], _ran("b")[-1]) == (5, 5)
    wait_for(lambda: daemon.metric("karafkad_held_keys", route="orders") == 0, 40, "the metric counts none")
    assert daemon.stop() == 0, daemon.logs()


def test_on_failure_skip_lets_the_key_move_on(tmp_path: Path) -> None:
    """`on_failure: skip`: a:1 fails for good, and the worker that failed it runs the rest of a, in order; the
    failed job is in RQ's failed registry, and no key is held."""
    topic = create_topic(unique("skip"))
    queue = unique("q")
    config, group = _ordered_routes(tmp_path, topic, queue, on_failure="skip")
    client = redis_client()
    client.sadd("effects:failing", "a:1")
    daemon = Daemon(config).start().wait_ready()
    _send(topic, [("a", n) for n in range(5)] + [("b", n) for n in range(3)])
    wait_until_consumed(daemon, topic, group)
    _worker(queue)
    assert (_ran("a"), _ran("b")) == ([0, 2, 3, 4], [0, 1, 2])
    assert client.zscore(failed_key(queue), f"{job_prefix(group, topic, 'orders')}-0-1") is not None
    assert _listed(config) == {}
    assert daemon.stop() == 0, daemon.logs()


# --- the store's part, without the daemon: jobs written by the enqueuer, run by a stock worker ------------------


def _write(table: RouteTable, topic: str, messages: list[tuple[int, str, int]]) -> None:
    """Each (offset, key, n) of partition 0 through the group's pipeline and the enqueuer, as the daemon does."""
    [group] = table.groups.values()
    records = [PlainRecord(topic, 0, offset, json.dumps({"k": key, "n": n}).encode(), key.encode())
               for offset, key, n in messages]
    batch = Pipeline(group, 1 << 20).process(topic, 0, records)
    Enqueuer(redis_client(), 3600).write([PartitionWrite(group.id, topic, 0, messages[-1][0], batch.jobs)])


class TestSkipAndRetry:
    def test_skipping_a_key_s_last_job_lets_its_next_message_go_straight_to_the_queue(self, tmp_path: Path) -> None:
        """A failed job nobody waits for yet still holds its key (the next message would wait for it); skipping it
        makes the chain forget it: the next message of its key is queued at once, not deferred."""
        topic, queue = unique("t"), unique("q")
        config, _ = _ordered_routes(tmp_path, topic, queue)
        table = load_routes(config)
        redis_client().sadd("effects:failing", "d:0")
        _write(table, topic, [(0, "d", 0)])
        _worker(queue)
        [held] = find_held(redis_client(), table.routes).keys
        assert (held.shown_key, held.waiting, held.error) == ("d", 0, "RuntimeError: message d:0 fails on purpose")
        release = HeldKeys(redis_client()).skip(held.job_id)
        assert (release.refused, release.queued, release.untied) == ("", (), True)
        _write(table, topic, [(1, "d", 1)])
        client = redis_client()
        next_job = f"{held.job_id.rsplit('-', 1)[0]}-1"
        assert client.hget(job_key(next_job), "status") == b"queued"
        assert client.lrange(queue_key(queue), 0, -1) == [next_job.encode()]
        assert client.zcard(deferred_key(queue)) == 0
        assert find_held(client, table.routes).keys == []

    def test_a_job_that_is_not_failed_is_neither_skipped_nor_retried(self, tmp_path: Path) -> None:
        """skip and retry refuse (and change nothing) for a job that is queued, and for one that does not exist."""
        topic, queue = unique("t"), unique("q")
        config, _ = _ordered_routes(tmp_path, topic, queue)
        table = load_routes(config)
        _write(table, topic, [(0, "e", 0), (1, "e", 1)])
        client = redis_client()
        [first] = [i.decode() for i in client.lrange(queue_key(queue), 0, -1)]
        store = HeldKeys(client)
        assert store.skip(first).refused == "not failed (its status: queued): it holds no key"
        assert store.retry(first).refused == "not failed (its status: queued): nothing to retry"
        assert store.skip("kd-nothing-0-0").refused.startswith("no such job")
        assert client.zcard(deferred_key(queue)) == 1 and client.llen(queue_key(queue)) == 1


# --- which failed jobs hold their key (held_scan.lua), on RQ's keys written as RQ writes them -------------------


def _route(tmp_path: Path, on_failure: str = "hold") -> Route:
    config, _ = _ordered_routes(tmp_path, unique("t"), "q", on_failure)
    [route] = load_routes(config).routes
    return route


def _id(route: Route, offset: int) -> str:
    return f"{route.id_prefixes[route.spec.topics[0]]}-0-{offset}"


def _fail(route: Route, offset: int, key: str = "a", *, waiting: tuple[int, ...] = (), last: bool = False,
          score: float = 100.0, result: bool = True) -> str:
    """A failed job of `route` as RQ 3 leaves it: in the failed registry, its hash (with karafkad_chain), its
    failed result; the jobs at `waiting` in line behind it; `last`: the last job of its chain."""
    client = redis_client()
    job_id = _id(route, offset)
    chain = chain_key(f"{route.id_prefixes[route.spec.topics[0]]}:0")
    client.zadd(failed_key("q"), {job_id: score})
    client.hset(job_key(job_id), mapping={CHAIN_FIELD: f"{chain}\nk:{key}", "status": "failed",
                                          "ended_at": "2026-11-30T08:00:00.250000Z", "origin": "q"})
    if result:
        exc = base64.b64encode(zlib.compress(b"Traceback\n  File h.py\nValueError: no such customer\n"))
        client.xadd(results_key(job_id), {"type": 2, "worker_name": "w", "exc_string": exc})
    parent = job_id
    for later in waiting:
        client.sadd(dependents_key(parent), _id(route, later))
        parent = _id(route, later)
    if last:
        client.hset(chain, f"k:{key}", parent)
    return job_id


class TestHeldScan:
    def test_a_failed_job_others_wait_for_holds_its_key_with_the_jobs_in_line_counted(self, tmp_path: Path) -> None:
        """The key, the time, the error's last line (from RQ 3's results stream), and every job in line behind it
        (two: the one waiting for it, and the one waiting for that one)."""
        route = _route(tmp_path)
        job_id = _fail(route, 3, waiting=(5, 8), last=True)
        [held] = find_held(redis_client(), [route]).keys
        assert (held.route, held.partition, held.key, held.job_id, held.failed_at) == (
            "orders", 0, b"a", job_id, 1_796_025_600_250)
        assert (held.error, held.waiting, held.counted_all) == ("ValueError: no such customer", 2, True)

    @pytest.mark.parametrize(("on_failure", "held"), [("hold", 1), ("skip", 0)])
    def test_a_failed_last_job_holds_its_key_on_a_hold_route_only(self, tmp_path: Path, on_failure: str,
                                                                  held: int) -> None:
        """Nothing waits for it yet, but the key's next message would (hold); on a skip route it would not."""
        route = _route(tmp_path, on_failure)
        _fail(route, 3, last=True)
        assert len(find_held(redis_client(), [route]).keys) == held

    def test_a_failed_job_nothing_waits_for_holds_nothing(self, tmp_path: Path) -> None:
        """Skipped before (no dependents, no longer its chain's last job): it stays failed but holds no key."""
        route = _route(tmp_path)
        _fail(route, 3)
        assert find_held(redis_client(), [route]).keys == []

    def test_other_routes_jobs_and_jobs_without_a_chain_are_passed_over(self, tmp_path: Path) -> None:
        """A failed job with another prefix that others wait for, and one of this route without karafkad_chain."""
        route = _route(tmp_path)
        client = redis_client()
        client.zadd(failed_key("q"), {"kd-other-0-1": 1, _id(route, 4): 2})
        client.hset(job_key("kd-other-0-1"), mapping={CHAIN_FIELD: "karafkad:chain:kd-other:0\nk:a"})
        client.sadd(dependents_key("kd-other-0-1"), "x")
        client.hset(job_key(_id(route, 4)), mapping={"status": "failed"})
        client.sadd(dependents_key(_id(route, 4)), "y")
        assert find_held(client, [route]).keys == []

    def test_only_the_newest_failed_jobs_are_read_and_the_others_counted(self, tmp_path: Path) -> None:
        """With a limit of 2 the two highest scores are read; the oldest, which holds a key, is left unread."""
        route = _route(tmp_path)
        _fail(route, 1, "old", waiting=(10,), score=1)
        newest = _fail(route, 2, "new", waiting=(11,), score=3)
        _fail(route, 3, "mid", score=2)
        scan = find_held(redis_client(), [route], scan_limit=2)
        assert [key.job_id for key in scan.keys] == [newest]
        assert (scan.failed, scan.read, scan.unread) == ({"q": 3}, {"q": 2}, {"q": 1})

    def test_the_count_stops_at_its_limit_or_budget_and_says_so(self, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
        """Ten in line, counted to 4 (`4+`); with a budget of 3 dependents sets for the whole look, the first key
        is counted to 3 and the second to nothing more than what was left (0), both short."""
        route = _route(tmp_path)
        first = _fail(route, 1, "a", waiting=tuple(range(100, 110)), score=2)
        [held] = find_held(redis_client(), [route], count_limit=4).keys
        assert (held.job_id, held.waiting, held.counted_all, held.shown_waiting) == (first, 4, False, "4+")
        _fail(route, 2, "b", waiting=(200,), score=1)
        monkeypatch.setattr(defaults, "WAITING_COUNT_BUDGET", 3)
        counts = [(k.waiting, k.counted_all) for k in find_held(redis_client(), [route]).keys]
        assert counts == [(3, False), (0, False)]

    def test_without_a_result_the_hash_s_exc_info_is_the_error(self, tmp_path: Path) -> None:
        """Earlier RQ versions kept the exception in the job hash (a zlib stream)."""
        route = _route(tmp_path)
        job_id = _fail(route, 3, last=True, result=False)
        redis_client().hset(job_key(job_id), "exc_info", zlib.compress(b"Traceback\nKeyError: 'sku'\n"))
        [held] = find_held(redis_client(), [route]).keys
        assert held.error == "KeyError: 'sku'"
