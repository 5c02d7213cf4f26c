"""web/held.py: the held keys card (buttons only for who may act), and the adapter from the ops floor's
HeldOperations (karafkad held list|retry|skip) to the console's HeldOps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from karafkad.web.held import HeldFromOps, HeldRow, body
from karafkad.web.html import READ_ONLY, Viewer


@dataclass
class Key:
    """karafkad.ops.held's HeldKey, as far as the adapter reads it."""

    group: str = "g"
    route: str = "r"
    topic: str = "t"
    partition: int = 0
    shown_key: str = "<k>"
    job_id: str = "kd-1"
    failed_at: int = 1_700_000_000_000
    error: str = "ValueError: no"
    shown_waiting: str = "3"


@dataclass
class Outcome:
    done: list[Any]
    refused: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.done)} held key(s) released"


class Ops:
    """karafkad.ops.held.HeldOperations, as far as the adapter calls it."""

    def __init__(self) -> None:
        self.released: list[tuple[str, list[Any]]] = []

    def listing(self, route: str | None = None) -> Any:
        return type("Listing", (), {"keys": [Key()]})()

    def named(self, job_ids: Sequence[str]) -> tuple[list[Any], list[tuple[str, str]]]:
        return [Key(job_id=j) for j in job_ids if j != "kd-x"], [(j, "holds no key") for j in job_ids if j == "kd-x"]

    def release(self, action: Any, keys: Sequence[Any]) -> Any:
        self.released.append((action, list(keys)))
        return Outcome(list(keys))


class TestAdapter:
    def test_held_keys_and_their_release_through_the_ops_floor(self) -> None:
        """Held keys and their release through the ops floor."""
        ops = Ops()
        held = HeldFromOps(ops)
        assert held.held_keys() == [HeldRow("g", "r", "t", 0, "<k>", "kd-1", 1_700_000_000.0, "ValueError: no", "3")]
        said = held.skip(["kd-1", "kd-x"], "ops from 10.0.0.1")
        assert said == "1 held key(s) released by ops from 10.0.0.1; kd-x: holds no key"
        assert ops.released[0][0] == "skip" and [k.job_id for k in ops.released[0][1]] == ["kd-1"]
        held.retry(["kd-1"], "ops")
        assert ops.released[1][0] == "retry"


class TestCard:
    def test_without_the_operations_the_card_says_so(self) -> None:
        """Without the operations the card says so."""
        assert "not available in this build" in body(None, READ_ONLY, 0.0)

    def test_held_keys_as_text_with_buttons_only_for_who_may_act(self) -> None:
        """Held keys as text with buttons only for who may act."""
        held = HeldFromOps(Ops())
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
