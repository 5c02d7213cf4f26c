"""cli/held.py: `karafkad held list|retry|skip` on a fake Redis: what is listed, what is refused and why, exit codes,
and the docs' synopsis is the parser's."""

from __future__ import annotations

import base64
import json
import re
import zlib
from pathlib import Path

import pytest
import redis
from redis_fakes import FakeRedis
from tables import make_table

from karafkad import defaults
from karafkad.cli import held as held_command
from karafkad.cli.main import main
from karafkad.cli.parser import build_parser
from karafkad.routes.table import RouteTable
from karafkad.store.keys import CHAIN_FIELD, EVENTS_KEY, chain_key, dependents_key, failed_key, job_key, results_key

pytestmark = pytest.mark.usefixtures("isolated_imports")

OPERATIONS = Path(__file__).resolve().parents[3] / "docs" / "operations.md"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRedis:
    """The Redis every `karafkad held` of the test talks to."""
    client = FakeRedis()
    monkeypatch.setattr(held_command, "connect", lambda settings: client)
    return client


def _table(tmp_path: Path) -> RouteTable:
    return make_table(tmp_path, {"shop": {"routes": [
        {"name": "orders", "topic": "orders", "handler": "h.handle", "queue": "q", "ordering": "key"},
        {"name": "audit", "topic": "orders", "handler": "h.handle", "queue": "q"}]}})


def _held(client: FakeRedis, table: RouteTable, offset: int, key: bytes, *, waiting: int = 2) -> str:
    """A failed job of `orders` at `offset` holding `key`, with `waiting` jobs in line behind it."""
    route = next(r for r in table.routes if r.name == "orders")
    prefix = route.id_prefixes["orders"]
    job_id = f"{prefix}-0-{offset}"
    client.zsets.setdefault(failed_key("q"), {})[job_id.encode()] = float(offset)
    client.hashes[job_key(job_id)] = {CHAIN_FIELD.encode(): chain_key(f"{prefix}:0").encode() + b"\nk:" + key,
                                      b"ended_at": b"2026-11-30T08:00:00.000000Z", b"status": b"failed"}
    client.streams[results_key(job_id)] = [(b"1-0", {b"type": b"2", b"exc_string": base64.b64encode(
        zlib.compress(b"Traceback\nValueError: no such customer\n"))})]
    parent = job_id
    for n in range(waiting):
        child = f"{prefix}-0-{offset + 100 + n}"
        client.sets[dependents_key(parent)] = {child.encode()}
        parent = child
    return job_id


def _run(tmp_path: Path, *args: str) -> int:
    action, *rest = args
    return main(["held", action, "-c", str(tmp_path / "routes.yaml"), *rest])


class TestArguments:
    @pytest.mark.parametrize(("args", "said"), [
        (("list", "--route", "ordres"), "no route 'ordres' (did you mean 'orders'?) in "),
        (("skip", "--route", "audit", "--all"), "route 'audit' has no `ordering`: it holds no key; the ordered "
                                                "routes of "),
        (("skip", "j1", "--route", "orders", "--key", "a"), "name failed jobs, or --route with --key or --all, not "
                                                            "both"),
        (("retry",), "name the failed job(s)"),
        (("retry", "--key", "a"), "--key and --all need --route"),
        (("skip", "--route", "orders", "--key", "a", "--all"), "--key or --all, not both")])
    def test_bad_arguments_exit_1_before_redis_is_asked(self, tmp_path: Path, fake: FakeRedis, args: tuple[str, ...],
                                                        said: str, capsys: pytest.CaptureFixture[str]) -> None:
        """Each says what is wrong; nothing is read or written."""
        _table(tmp_path)
        assert _run(tmp_path, *args) == defaults.EXIT_CONFIG
        assert said in capsys.readouterr().err
        assert fake.round_trips == 0


class TestList:
    def test_each_held_key_with_its_job_error_and_waiting_count(self, tmp_path: Path, fake: FakeRedis,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
        """A table of the held keys, then the count and what to do about them."""
        job_id = _held(fake, _table(tmp_path), 3, b"customer-7")
        assert _run(tmp_path, "list") == defaults.EXIT_OK
        out = capsys.readouterr().out
        header, row, summary = out.splitlines()
        assert header.split() == ["ROUTE", "PARTITION", "KEY", "FAILED", "JOB", "FAILED", "AT", "WAITING", "ERROR"]
        assert row.split() == ["orders", "orders[0]", "customer-7", job_id, "2026-11-30", "08:00:00Z", "2",
                               "ValueError:", "no", "such", "customer"]
        assert summary.startswith("1 held key; `karafkad held retry JOB` runs a failed job again")

    def test_as_json(self, tmp_path: Path, fake: FakeRedis, capsys: pytest.CaptureFixture[str]) -> None:
        """`--json`: the held keys as the status page has them, and the failed jobs left unread per queue."""
        job_id = _held(fake, _table(tmp_path), 3, b"a")
        assert _run(tmp_path, "list", "--json") == defaults.EXIT_OK
        listed = json.loads(capsys.readouterr().out)
        assert [(k["route"], k["key"], k["job"], k["waiting"]) for k in listed["held_keys"]] == [
            ("orders", "a", job_id, 2)]
        assert listed["unread_failed_jobs"] == {}

    def test_a_file_without_ordered_routes_says_so(self, tmp_path: Path, fake: FakeRedis,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
        """No route has `ordering`: no key can be held (exit 0, nothing read)."""
        make_table(tmp_path, {"shop": {"routes": [{"name": "audit", "topic": "orders", "handler": "h.handle"}]}})
        assert _run(tmp_path, "list") == defaults.EXIT_OK
        assert "has `ordering`: no key can be held" in capsys.readouterr().out

    def test_redis_unreachable_exits_3(self, tmp_path: Path, fake: FakeRedis,
                                       capsys: pytest.CaptureFixture[str]) -> None:
        """The store's words for the failure, exit 3."""
        _table(tmp_path)
        fake.fail = redis.ConnectionError("Connection refused")
        assert _run(tmp_path, "list") == defaults.EXIT_RUNTIME
        assert "karafkad held list: Redis: " in capsys.readouterr().err


class TestRelease:
    def test_skip_of_a_held_job_runs_the_rest_and_is_noted(self, tmp_path: Path, fake: FakeRedis,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
        """The script runs once for the job; the line says what happened; the event names the key."""
        job_id = _held(fake, _table(tmp_path), 3, b"a")
        fake.script_answers.append([b"skipped", 0, b"next"])
        assert _run(tmp_path, "skip", job_id) == defaults.EXIT_OK
        out = capsys.readouterr().out
        assert f"skipped {job_id} (orders, orders[0], key 'a'): it stays in RQ's failed registry; the 2 jobs" in out
        assert out.splitlines()[-1] == "1 held key skipped"
        [(_, args)] = fake.script_calls
        assert args[0] == job_id
        [event] = [json.loads(e) for e in fake.lists[EVENTS_KEY]]
        assert (event["kind"], event["jobs"]) == ("held-skip", [job_id])
        assert event["message"] == "held skip: 1 held key skipped: orders 'a'"

    def test_a_job_that_holds_no_key_is_refused_with_why(self, tmp_path: Path, fake: FakeRedis,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
        """A job of no ordered route and a job that does not exist: exit 1, each with its reason, nothing run."""
        _table(tmp_path)
        assert _run(tmp_path, "retry", "kd-elsewhere-0-1") == defaults.EXIT_CONFIG
        err = capsys.readouterr().err
        assert "karafkad held retry: kd-elsewhere-0-1: refused: no job of an ordered route of " in err
        assert fake.script_calls == [] and EVENTS_KEY not in fake.lists

    def test_a_key_of_a_route_is_chosen_by_its_text(self, tmp_path: Path, fake: FakeRedis,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
        """`--route orders --key b` skips b's job only; a key the route does not hold is an error naming those
        it does."""
        table = _table(tmp_path)
        _held(fake, table, 3, b"a")
        b_job = _held(fake, table, 4, b"b")
        assert _run(tmp_path, "skip", "--route", "orders", "--key", "zz") == defaults.EXIT_CONFIG
        assert "route 'orders' holds no key 'zz'; its held keys: " in capsys.readouterr().err
        fake.script_answers.append([b"skipped", 0])
        assert _run(tmp_path, "skip", "--route", "orders", "--key", "b") == defaults.EXIT_OK
        assert [args[0] for _, args in fake.script_calls] == [b_job]

    def test_all_without_yes_only_says_what_it_would_do(self, tmp_path: Path, fake: FakeRedis,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
        """`--all` lists the keys it chose and exits 1 until `--yes` is given; then it releases them all."""
        table = _table(tmp_path)
        first, second = _held(fake, table, 3, b"a"), _held(fake, table, 4, b"b")
        assert _run(tmp_path, "skip", "--route", "orders", "--all") == defaults.EXIT_CONFIG
        out, err = capsys.readouterr()
        assert f"would skip {first}" in out and f"would skip {second}" in out
        assert "add --yes to release them" in err and fake.script_calls == []
        fake.script_answers += [[b"skipped", 0], [b"skipped", 0]]
        assert _run(tmp_path, "skip", "--route", "orders", "--all", "--yes") == defaults.EXIT_OK
        assert sorted(args[0] for _, args in fake.script_calls) == sorted([first, second])


class TestSynopsis:
    def test_the_operations_synopsis_names_every_option_of_each_action(self) -> None:
        """docs/operations.md's synopsis lines of `held list`, `held retry` and `held skip` have exactly the options
        their `--help` lists."""
        text = OPERATIONS.read_text("utf-8")
        commands = next(a for a in build_parser()._actions if a.dest == "command")
        held = commands.choices["held"]  # type: ignore[index]
        actions = next(a for a in held._actions if a.dest == "action")
        for name, parser in actions.choices.items():
            [line] = re.findall(rf"^karafkad held {name} .*$", text, re.MULTILINE)
            documented = set(re.findall(r"\[(-[-\w]+)", line))
            options = {a.option_strings[0] for a in parser._actions if a.option_strings and a.dest != "help"}
            assert documented == options, name
