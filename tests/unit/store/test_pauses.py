"""store/pauses.py: the operators' pauses in one hash without expiry: who paused what, and when."""

from __future__ import annotations

import pytest
from redis_fakes import FakeRedis

from karafkad.store import pauses
from karafkad.store.keys import PAUSES_KEY
from karafkad.store.pauses import PauseTarget


class TestPauseTarget:
    def test_a_target_is_a_route_or_a_partition(self) -> None:
        """Both, or a topic without its partition, is no target."""
        for wrong in ({}, {"route": "r", "topic": "t", "partition": 0}, {"topic": "t"}, {"partition": 1}):
            with pytest.raises(ValueError, match="a pause is of a route, or of a topic's partition"):
                PauseTarget("g", **wrong)  # type: ignore[arg-type]

    @pytest.mark.parametrize("target", [PauseTarget("g:1", route='r"x'), PauseTarget("g", topic="a:b", partition=3)])
    def test_fields_name_their_target_unambiguously(self, target: PauseTarget) -> None:
        """Names with colons or quotes: the field is JSON, read back to the same target."""
        assert PauseTarget.from_field(target.field()) == target

    @pytest.mark.parametrize("field", ["", "x", "[1, 2]", '["g"]', '["g", "t", "3"]', '["g", "t", true]'])
    def test_fields_karafkad_did_not_write_name_nothing(self, field: str) -> None:
        """A field karafkad did not write (or an old form) names no target: it is passed over, not obeyed."""
        assert PauseTarget.from_field(field) is None

    def test_described_for_people(self) -> None:
        """A target in the words the console, the log and the events list use."""
        assert PauseTarget("shop", route="orders").describe() == "route orders (group shop)"
        assert PauseTarget("shop", topic="o", partition=3).describe() == "partition o[3] (group shop)"


class TestPauses:
    def test_a_pause_is_kept_with_who_and_when_until_resumed(self) -> None:
        """A pause is kept with who and when until resumed."""
        client = FakeRedis()
        target = PauseTarget("g", route="r")
        done = pauses.pause(client, target, "ops", 100.0)  # type: ignore[arg-type]
        assert done is not None and (done.who, done.at) == ("ops", 100.0)
        assert pauses.paused(client) == [done]  # type: ignore[arg-type]
        assert PAUSES_KEY not in client.ttls  # no expiry: it outlives every restart
        assert pauses.resume(client, target) == done  # type: ignore[arg-type]
        assert pauses.paused(client) == []  # type: ignore[arg-type]

    def test_pausing_twice_keeps_the_first_pause(self) -> None:
        """The second asker is told it was paused already (None); the first one's name stays."""
        client = FakeRedis()
        target = PauseTarget("g", topic="t", partition=0)
        pauses.pause(client, target, "first", 1.0)  # type: ignore[arg-type]
        assert pauses.pause(client, target, "second", 2.0) is None  # type: ignore[arg-type]
        assert [p.who for p in pauses.paused(client)] == ["first"]  # type: ignore[arg-type]

    def test_resuming_what_is_not_paused_says_so(self) -> None:
        """Resuming what is not paused says so."""
        assert pauses.resume(FakeRedis(), PauseTarget("g", route="r")) is None  # type: ignore[arg-type]

    def test_pauses_are_listed_routes_first_and_strangers_passed_over(self) -> None:
        """Pauses are listed routes first and strangers passed over."""
        client = FakeRedis()
        pauses.pause(client, PauseTarget("g", topic="t", partition=2), "a", 1.0)  # type: ignore[arg-type]
        pauses.pause(client, PauseTarget("g", route="r"), "b", 2.0)  # type: ignore[arg-type]
        client.hashes[PAUSES_KEY][b"junk"] = b"{}"
        client.hashes[PAUSES_KEY][PauseTarget("g", route="x").field().encode()] = b"not json"
        assert [p.target.kind for p in pauses.paused(client)] == ["route", "partition"]  # type: ignore[arg-type]
