"""cli/held.py: `karafkad held list|retry|skip` on a fake Redis: what is listed, what is refused and why, exit codes,
and the docs' synopsis is the parser's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import redis
from redis_fakes import FakeRedis, held_scan_answer
from tables import make_table

from karafkad import defaults
from karafkad.cli import held as held_command
from karafkad.cli.main import main
from karafkad.cli.output import operator
from karafkad.cli.parser import build_parser
from karafkad.routes.table import RouteTable
from karafkad.store.keys import EVENTS_KEY, chain_key, failed_key, job_key

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


def _job(table: RouteTable, offset: int) -> tuple[str, str]:
    """The id of the job of `orders` at `offset`, and its karafkad_chain field for key `a`."""
    route = next(r for r in table.routes if r.name == "orders")
    prefix = route.id_prefixes["orders"]
    return f"{prefix}-0-{offset}", f"{chain_key(f'{prefix}:0')}\nk:a"


def _failed(client: FakeRedis, job_id: str) -> None:
    """`job_id` failed for good: its status and RQ's failed registry say so."""
    client.hashes[job_key(job_id)] = {b"status": b"failed"}
    client.zsets.setdefault(failed_key("q"), {})[job_id.encode()] = 1.0


def _answer(*held: tuple[str, str]) -> list[object]:
    """The held-keys script's answer naming these (job id, chain field), two jobs waiting behind each."""
    return held_scan_answer(len(held), len(held), *((job_id, chain, 2) for job_id, chain in held))


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
        job_id, chain = _job(_table(tmp_path), 3)
        fake.script_answers.append(_answer((job_id, chain.replace("k:a", "k:customer-7"))))
        assert _run(tmp_path, "list") == defaults.EXIT_OK
        out = capsys.readouterr().out
        header, row, summary = out.splitlines()
        assert header.split() == ["ROUTE", "PARTITION", "KEY", "FAILED", "JOB", "FAILED", "AT", "WAITING", "ERROR"]
        assert row.split() == ["orders", "orders[0]", "customer-7", job_id, "2026-11-30", "08:00:00Z", "2",
                               "ValueError:", "no", "such", "customer"]
        assert summary.startswith("1 held key; `karafkad held retry JOB` runs a failed job again")

    def test_as_json(self, tmp_path: Path, fake: FakeRedis, capsys: pytest.CaptureFixture[str]) -> None:
        """`--json`: the held keys as the status page has them, and the failed jobs left unread per queue."""
        job_id, chain = _job(_table(tmp_path), 3)
        fake.script_answers.append(_answer((job_id, chain)))
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
        job_id, chain = _job(_table(tmp_path), 3)
        _failed(fake, job_id)
        fake.script_answers += [_answer((job_id, chain)), [b"skipped", 0, b"next"]]
        assert _run(tmp_path, "skip", job_id) == defaults.EXIT_OK
        out = capsys.readouterr().out
        assert f"skipped {job_id} (orders, orders[0], key 'a'): it stays in RQ's failed registry; the 2 jobs" in out
        assert out.splitlines()[-1] == "1 held key skipped"
        (_, scanned), (_, skipped) = fake.script_calls
        assert scanned[-1] == job_id and skipped[0] == job_id
        [event] = [json.loads(e) for e in fake.lists[EVENTS_KEY]]
        assert (event["kind"], event["jobs"]) == ("held-skip", [job_id])
        assert event["message"] == f"held skip by {operator()}: 1 held key skipped: orders 'a'"
        assert event["who"] == operator()

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
        (a_job, a_chain), (b_job, b_chain) = _job(table, 3), _job(table, 4)
        both = _answer((a_job, a_chain), (b_job, b_chain.replace("k:a", "k:b")))
        fake.script_answers.append(both)
        assert _run(tmp_path, "skip", "--route", "orders", "--key", "zz") == defaults.EXIT_CONFIG
        assert "route 'orders' holds no key 'zz'; its held keys: 'a', 'b'" in capsys.readouterr().err
        fake.script_answers += [both, [b"skipped", 0]]
        assert _run(tmp_path, "skip", "--route", "orders", "--key", "b") == defaults.EXIT_OK
        assert fake.script_calls[-1][1][0] == b_job

    def test_all_without_yes_only_says_what_it_would_do(self, tmp_path: Path, fake: FakeRedis,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
        """`--all` lists the keys it chose and exits 1 until `--yes` is given; then it releases them all."""
        table = _table(tmp_path)
        (first, chain), (second, _) = _job(table, 3), _job(table, 4)
        both = _answer((first, chain), (second, chain.replace("k:a", "k:b")))
        fake.script_answers.append(both)
        assert _run(tmp_path, "skip", "--route", "orders", "--all") == defaults.EXIT_CONFIG
        out, err = capsys.readouterr()
        assert f"would skip {first}" in out and f"would skip {second}" in out
        assert "add --yes to release them" in err and len(fake.script_calls) == 1  # the look, no skip
        fake.script_answers += [both, [b"skipped", 0], [b"skipped", 0]]
        assert _run(tmp_path, "skip", "--route", "orders", "--all", "--yes") == defaults.EXIT_OK
        assert [args[0] for _, args in fake.script_calls[2:]] == [first, second]


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
