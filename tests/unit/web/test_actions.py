"""web/actions.py: a form's fields become the operation its command runs (pause, resume, re-drive, held keys),
its answer a Done or a Refused with the HTTP status."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from reader_fakes import FakeReader
from redis_fakes import FakeRedis, RecordingRedis
from tables import make_record, make_table

from karafkad.ops.dead_letter_reading import place_of
from karafkad.ops.dead_letters import RedriveReport
from karafkad.routes.table import RouteTable
from karafkad.store import pauses
from karafkad.store.dead_letter_headers import StoredDeadLetter
from karafkad.store.pauses import PauseTarget
from karafkad.web.actions import Actions, Done, Refused
from karafkad.web.held import HeldRow


class FakeHeld:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], str]] = []

    def held_keys(self) -> list[HeldRow]:
        return []

    def retry(self, job_ids: Sequence[str], who: str) -> str:
        self.calls.append(("retry", list(job_ids), who))
        return "1 held key retried"

    def skip(self, job_ids: Sequence[str], who: str) -> str:
        self.calls.append(("skip", list(job_ids), who))
        return "1 held key skipped"


def letter(offset: int) -> object:
    headers = [("karafkad.error", b"bad"), ("karafkad.error_kind", b"schema"), ("karafkad.route", b"ok"),
               ("karafkad.group", b"g"), ("karafkad.original_topic", b"t"), ("karafkad.original_partition", b"0"),
               ("karafkad.original_offset", str(offset + 10).encode())]
    return make_record(offset, b'{"n": 1}', topic="t-dead", headers=headers)


@pytest.fixture
def table(tmp_path: Path) -> RouteTable:
    return make_table(tmp_path, {"g": {"routes": [
        {"name": "ok", "topic": "t", "handler": "h.handle", "dead_letter": "t-dead"}]}})


def actions(table: RouteTable, client: FakeRedis | None = None, held: FakeHeld | None = None,
            jobs: RecordingRedis | None = None) -> Actions:
    reader = FakeReader({"t-dead": {0: [letter(0), letter(1)]}})
    top = client or FakeRedis()
    return Actions(lambda: table, top, lambda _: jobs or RecordingRedis(), lambda: reader,  # type: ignore
                   held or FakeHeld())


class TestPauseResume:
    def test_a_route_and_a_partition_are_paused_and_resumed_by_their_fields(self, table: RouteTable) -> None:
        """A route and a partition are paused and resumed by their fields."""
        client = FakeRedis()
        done = actions(table, client).pause({"group": ["g"], "route": ["ok"]}, "ops from 10.0.0.1")
        assert isinstance(done, Done) and "paused by ops from 10.0.0.1" in done.message
        actions(table, client).pause({"topic": ["t"], "partition": ["2"]}, "ops")
        assert [p.target for p in pauses.paused(client)] == [  # type: ignore[arg-type]
            PauseTarget("g", route="ok"), PauseTarget("g", topic="t", partition=2)]
        assert isinstance(actions(table, client).resume({"group": ["g"], "route": ["ok"]}, "ops"), Done)

    def test_a_pause_of_a_route_since_removed_can_still_be_resumed(self, table: RouteTable) -> None:
        """A pause of a route since removed can still be resumed."""
        client = FakeRedis()
        pauses.pause(client, PauseTarget("g", route="gone"), "ops", 1.0)  # type: ignore[arg-type]
        done = actions(table, client).resume({"group": ["g"], "route": ["gone"]}, "ops")
        assert isinstance(done, Done) and "resumed" in done.message

    @pytest.mark.parametrize("form", [{}, {"route": ["nope"]}, {"topic": ["t"], "partition": ["x"]}])
    def test_fields_that_name_nothing_are_refused(self, table: RouteTable, form: dict[str, list[str]]) -> None:
        """Fields that name nothing are refused."""
        refused = actions(table).pause(form, "ops")
        assert isinstance(refused, Refused) and refused.status == 400


class TestRedrive:
    def test_the_chosen_dead_letters_go_to_the_redrive_of_the_command(self, table: RouteTable,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        """The same operation as `dead-letters redrive --at`: the letters read back at their places, the route
        chosen, who asked; a place without a dead letter is said (the integration tests prove the jobs)."""
        calls: list[tuple[list[str], tuple[str, ...], str | None]] = []

        def redrive(table: RouteTable, connect: object, letters: list[StoredDeadLetter], *,
                    routes: tuple[str, ...] = (), who: str | None = None) -> RedriveReport:
            calls.append(([place_of(letter) for letter in letters], routes, who))
            return RedriveReport(jobs=len(letters), done=list(letters))

        monkeypatch.setattr("karafkad.web.actions.redrive", redrive)
        done = actions(table).redrive({"at": ["t-dead:0:1", "t-dead:0:5"], "route": ["ok"]}, "ops")
        assert isinstance(done, Done)
        assert calls == [(["t-dead:0:1"], ("ok",), "ops")]
        assert done.message.startswith("1 dead letter became 1 job") and "t-dead:0:5: no record there" in done.message

    @pytest.mark.parametrize(("form", "status"), [({}, 400), ({"at": ["nonsense"]}, 400),
                                                  ({"at": ["t-dead:0:9"]}, 404)])
    def test_a_selection_that_names_nothing_is_refused(self, table: RouteTable, form: dict[str, list[str]],
                                                       status: int) -> None:
        """Nothing chosen, a place that is no place (400), no dead letter at the place (404)."""
        refused = actions(table).redrive(form, "ops")
        assert isinstance(refused, Refused) and refused.status == status


class TestHeld:
    def test_retry_and_skip_go_to_the_held_key_operations(self, table: RouteTable) -> None:
        """Retry and skip go to the held key operations."""
        held = FakeHeld()
        done = actions(table, held=held).held_retry({"job": ["kd-1"]}, "ops")
        assert isinstance(done, Done) and held.calls == [("retry", ["kd-1"], "ops")]
        actions(table, held=held).held_skip({"job": ["kd-2"]}, "ops")
        assert held.calls[-1] == ("skip", ["kd-2"], "ops")
        assert isinstance(actions(table, held=held).held_skip({}, "ops"), Refused)
