"""web/held.py: the held keys card (buttons only for who may act), and the adapter from the ops floor's
HeldOperations (karafkad held list|retry|skip) to the console's HeldOps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from web_fakes import cell

from karafkad.ops.held import Action, Listing, Outcome
from karafkad.store.held import HeldKey, Release
from karafkad.web.deployment import DeploymentView, Member
from karafkad.web.held import HeldFromOps, HeldRow, body, card
from karafkad.web.html import READ_ONLY, Viewer


def key(job_id: str = "kd-1") -> HeldKey:
    return HeldKey("g", "r", "t", 0, b"k:<k>", job_id, 1_700_000_000_000, "ValueError: no", 3)


class Ops:
    """karafkad.ops.held.HeldOperations, as far as the adapter calls it: job kd-x holds no key."""

    def __init__(self) -> None:
        self.released: list[tuple[str, list[HeldKey], str | None]] = []

    def listing(self, route: str | None = None) -> Listing:
        return Listing([key()])

    def named(self, job_ids: Sequence[str]) -> tuple[list[HeldKey], list[tuple[str, str]]]:
        return [key(j) for j in job_ids if j != "kd-x"], [(j, "holds no key") for j in job_ids if j == "kd-x"]

    def release(self, action: Action, keys: Sequence[HeldKey], who: str | None = None) -> Outcome:
        self.released.append((action, list(keys), who))
        return Outcome(action, [(k, Release(k.job_id)) for k in keys])


class TestAdapter:
    def test_held_keys_and_their_release_through_the_ops_floor(self) -> None:
        """The ops floor's held keys as rows (failed_at in seconds); a release names who, and the jobs refused."""
        ops = Ops()
        held = HeldFromOps(lambda: ops)
        assert held.held_keys() == [HeldRow("g", "r", "t", 0, "<k>", "kd-1", 1_700_000_000.0, "ValueError: no", "3")]
        said = held.skip(["kd-1", "kd-x"], "ops from 10.0.0.1")
        assert said == "1 held key skipped by ops from 10.0.0.1; kd-x: holds no key"
        assert ops.released[0][0] == "skip" and [k.job_id for k in ops.released[0][1]] == ["kd-1"]
        assert ops.released[0][2] == "ops from 10.0.0.1"
        held.retry(["kd-1"], "ops")
        assert ops.released[1][0] == "retry"


class TestCard:
    def test_without_the_operations_the_card_says_so(self) -> None:
        """A console given no held-key operations says so, and which command has them."""
        assert "does not read the held keys (karafkad held list|retry|skip does)" in body(None, READ_ONLY, 0.0)

    def test_held_keys_as_text_with_buttons_only_for_who_may_act(self) -> None:
        """Held keys as text with buttons only for who may act."""
        held = HeldFromOps(Ops)
        shown = body(held, READ_ONLY, 1_700_000_060.0)
        assert "&lt;k&gt;" in shown and "<k>" not in shown and "<form" not in shown and "1 min 0 s ago" in shown
        acting = body(held, Viewer(True, "ops", "tok"), 1_700_000_060.0)
        assert 'action="/actions/held-retry"' in acting and 'action="/actions/held-skip"' in acting
        assert 'data-confirm="Skip job kd-1?' in acting

    def test_a_redis_that_cannot_be_read_is_said(self) -> None:
        """A Redis that cannot be read is said."""
        class Down:
            def held_keys(self) -> list[HeldRow]:
                raise ConnectionError("refused")

            def retry(self, job_ids: Sequence[str], who: str) -> str:
                return ""

            def skip(self, job_ids: Sequence[str], who: str) -> str:
                return ""

        assert "Cannot read the held keys" in body(Down(), READ_ONLY, 0.0)


ORDERED = {"group": "shop", "name": "orders", "topics": ["orders"], "queue": "q", "ordering": "key",
           "on_failure": "hold"}


def _key(key: str, job: str, waiting: int = 3, counted_all: bool = True, route: str = "orders") -> dict[str, Any]:
    return {"group": "shop", "route": route, "topic": "orders", "partition": 2, "key": key, "job": job,
            "failed_at": "2026-11-30 08:00:00Z", "failed_at_ms": 1, "error": "ValueError: no such customer",
            "waiting": waiting, "counted_all": counted_all}


def _view(*looks: dict[str, Any], routes: Sequence[dict[str, Any]] = (ORDERED,)) -> DeploymentView:
    """A deployment whose daemons (a, b, ...) each looked at the held keys of `routes` once."""
    snaps = [{"routes": list(routes), "held_keys": look} for look in looks]
    return DeploymentView(snaps[0], [Member(chr(97 + i), 1.0, s, own=i == 0) for i, s in enumerate(snaps)])


class TestOverviewCard:
    def test_each_held_key_is_shown_with_its_job_error_and_waiting_count(self) -> None:
        """A row per held key (escaped), with its failed job, error and waiting count (+ when the count stopped),
        and buttons only for who may act."""
        look = {"keys": [_key("<b>c1</b>", "kd-orders-1-2-3"), _key("c2", "kd-orders-1-2-4", 100, False)],
                "scanned_at": 5055.0, "error": None, "unread": {}}
        shown = card(_view(look), READ_ONLY, 5060.0)
        assert "looked 5 s ago" in shown and "&lt;b&gt;c1&lt;/b&gt;" in shown and "<b>c1</b>" not in shown
        assert cell(shown, 'data-group="shop" data-route="orders" data-job="kd-orders-1-2-4"', "waiting") == "100+"
        assert "ValueError: no such customer" in shown and "karafkad held retry JOB" in shown
        assert "<form" not in shown
        assert 'action="/actions/held-skip"' in card(_view(look), Viewer(True, "ops", "tok"), 5060.0)

    @pytest.mark.parametrize(("look", "said"), [
        ({}, "Not looked yet."),
        ({"keys": [], "scanned_at": 5050.0, "error": None, "unread": {}}, "No key is held."),
        ({"keys": [], "scanned_at": 5050.0, "error": "Redis: refused", "unread": {"q": 7}}, "Redis: refused")])
    def test_no_held_key_says_whether_it_was_looked_for(self, look: dict[str, Any], said: str) -> None:
        """Before the first look, after a look that found none, and with the reason a Redis was not read and the
        failed jobs left unread."""
        shown = card(_view(look), READ_ONLY, 5060.0)
        assert said in shown
        if look.get("unread"):
            assert "queue q: 7 older failed jobs not read" in shown

    def test_the_newest_look_of_a_route_wins(self) -> None:
        """Two daemons of a group looked at its held keys: a key released since the older look is not shown, and a
        key is shown once."""
        older = {"keys": [_key("c1", "kd-1"), _key("c2", "kd-2")], "scanned_at": 5000.0, "error": None, "unread": {}}
        newer = {"keys": [_key("c2", "kd-2")], "scanned_at": 5050.0, "error": None, "unread": {}}
        shown = card(_view(newer, older), READ_ONLY, 5060.0)
        assert 'data-job="kd-2"' in shown and shown.count('data-job="kd-2"') == 1 and 'data-job="kd-1"' not in shown

    def test_without_an_ordered_route_there_is_no_card(self) -> None:
        """No route has `ordering`: nothing can be held, and the overview does not speak of it."""
        assert card(_view({}, routes=[{**ORDERED, "ordering": "none"}]), READ_ONLY, 5060.0) == ""
