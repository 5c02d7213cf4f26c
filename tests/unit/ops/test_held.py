"""ops/held.py: which held key a --key names, which Redis each group's keys are read on, and what a release notes
(Redis faked; the command's own output and exit codes are tests/unit/cli/test_held.py's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from redis_fakes import FakeRedis, held_scan_answer
from tables import make_table

from karafkad.config.settings import RedisSettings
from karafkad.ops.held import EVENT_KEYS_NAMED, HeldOperations, matching
from karafkad.store.held import HeldKey
from karafkad.store.keys import EVENTS_KEY, chain_key

pytestmark = pytest.mark.usefixtures("isolated_imports")


def _key(key: bytes, job: str = "j", route: str = "orders", group: str = "shop") -> HeldKey:
    return HeldKey(group, route, "orders", 0, b"k:" + key, job, 0, "", 1)


class TestMatching:
    def test_a_key_is_named_as_held_list_shows_it_or_by_its_text(self) -> None:
        """`café` by its text; a key that is no UTF-8 by its escaped form; a null key by `(null key)`."""
        keys = [_key("café".encode(), "j1"), _key(b"\xff", "j2"), HeldKey("shop", "orders", "orders", 0, b"p", "j3",
                                                                            0, "", 1)]
        assert [k.job_id for k in matching(keys, "café")] == ["j1"]
        assert [k.job_id for k in matching(keys, "\\xff")] == ["j2"]
        assert [k.job_id for k in matching(keys, "(null key)")] == ["j3"]
        assert matching(keys, "cafe") == []


class TestOperations:
    def test_each_group_s_keys_are_read_on_its_own_redis(self, tmp_path: Path) -> None:
        """Two groups, the second with a Redis of its own: one look on each, each with its group's routes."""
        table = make_table(tmp_path, {
            "shop": {"routes": [{"name": "orders", "topic": "orders", "handler": "h.handle", "queue": "q",
                                 "ordering": "key"}]},
            "billing": {"redis": {"url": "redis://127.0.0.1:6390/0"}, "routes": [
                {"name": "invoices", "topic": "invoices", "handler": "h.handle", "queue": "qb",
                 "ordering": "key"}]}})
        clients: dict[str, FakeRedis] = {}

        def connect(settings: RedisSettings) -> FakeRedis:
            return clients.setdefault(settings.url, FakeRedis())

        prefix = next(r for r in table.routes if r.name == "invoices").id_prefixes["invoices"]
        own = connect(table.config.redis_for("billing"))
        own.script_answers.append(held_scan_answer(1, 1, (f"{prefix}-0-7", f"{chain_key(prefix + ':0')}\nk:x", 0)))
        connect(table.config.redis).script_answers.append(held_scan_answer(0, 0))
        operations = HeldOperations(table, connect)  # type: ignore[arg-type]
        [held] = operations.listing().keys
        assert (held.group, held.route, held.job_id) == ("billing", "invoices", f"{prefix}-0-7")
        assert [args[0] for _, args in own.script_calls] == ["rq:failed:qb"]

    def test_a_release_of_many_keys_names_a_few_in_its_event(self, tmp_path: Path) -> None:
        """The event names EVENT_KEYS_NAMED keys and counts the rest; it lists every job released."""
        table = make_table(tmp_path, {"shop": {"routes": [
            {"name": "orders", "topic": "orders", "handler": "h.handle", "queue": "q", "ordering": "key"}]}})
        client = FakeRedis()
        keys = [_key(f"c{n}".encode(), f"j{n}") for n in range(EVENT_KEYS_NAMED + 2)]
        client.script_answers += [[b"skipped", 0]] * len(keys)
        outcome = HeldOperations(table, lambda settings: client).release("skip", keys)  # type: ignore[arg-type,return-value]
        assert outcome.summary() == f"{EVENT_KEYS_NAMED + 2} held keys skipped"
        [event] = [json.loads(e) for e in client.lists[EVENTS_KEY]]
        assert event["message"].endswith("orders 'c4' and 2 more")
        assert event["jobs"] == [k.job_id for k in keys] and event["groups"] == ["shop"]

    def test_a_release_refused_by_the_store_is_reported_and_not_noted(self, tmp_path: Path) -> None:
        """The job stopped holding its key meanwhile (retried by someone else): refused, with the store's reason;
        nothing done, so no event."""
        table = make_table(tmp_path, {"shop": {"routes": [
            {"name": "orders", "topic": "orders", "handler": "h.handle", "queue": "q", "ordering": "key"}]}})
        client = FakeRedis()
        client.script_answers.append([b"not-failed", b"queued"])
        outcome = HeldOperations(table, lambda settings: client).release("skip", [_key(b"a")])  # type: ignore[arg-type,return-value]
        assert outcome.refused == [("j", "not failed (its status: queued): it holds no key")]
        assert outcome.summary() == "0 held keys skipped; 1 refused"
        assert EVENTS_KEY not in client.lists
