"""cli.py: the subcommands exist with their options; `karafkad test` and `karafkad produce` as a user runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from karafkad import defaults
from karafkad.cli.main import main
from karafkad.cli.parser import build_parser

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "routes.yaml"
EXAMPLE_TESTS = ROOT / "config" / "routes_test.yaml"


def _karafkad(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    beside = Path(sys.executable).parent / "karafkad"
    found = str(beside) if beside.exists() else shutil.which("karafkad")
    assert found, "the karafkad console script is not installed"
    return subprocess.run([found, *args], input=stdin.decode(), capture_output=True, text=True, timeout=60)


class TestParser:
    def test_every_subcommand_is_there(self) -> None:
        """The daemon's commands, and the operator's: replay, dead-letters, and the console's actions."""
        parser = build_parser()
        commands = next(a for a in parser._actions if a.dest == "command")
        assert set(commands.choices) == {"start", "check", "routes", "explain", "test", "produce", "worker",
                                         "stop", "reload", "status", "replay", "dead-letters", "topics", "pause",
                                         "resume", "paused", "web-password"}

    def test_times_on_the_command_line(self) -> None:
        """ISO 8601 (UTC without an offset) or epoch seconds/milliseconds, in ms; anything else is a usage error."""
        args = build_parser().parse_args(["replay", "-g", "g", "--time", "2026-11-30T08:00:00"])
        assert args.time == 1_796_025_600_000
        assert build_parser().parse_args(["replay", "-g", "g", "--time", "1796025600"]).time == 1_796_025_600_000
        with pytest.raises(SystemExit) as exited:
            build_parser().parse_args(["dead-letters", "list", "--since", "last week"])
        assert exited.value.code == 1

    def test_produce_options(self) -> None:
        """produce takes a topic, a key, repeated headers, --json, a partition and a file (stdin by default)."""
        args = build_parser().parse_args(["produce", "-t", "orders", "-k", "c1", "-H", "a=1", "-H", "b=2", "--json",
                                          "-p", "1", "orders.jsonl"])
        assert (args.topic, args.key, args.header, args.json, args.partition, args.file) == (
            "orders", "c1", ["a=1", "b=2"], True, 1, "orders.jsonl")
        assert build_parser().parse_args(["produce", "-t", "t"]).file == "-"

    def test_produce_reads_a_routes_file_or_servers_not_both(self, capsys: pytest.CaptureFixture[str]) -> None:
        """-c and -b exclude each other; usage errors exit 1 (2 means a forced shutdown)."""
        with pytest.raises(SystemExit) as caught:
            build_parser().parse_args(["produce", "-t", "t", "-c", "r.yaml", "-b", "h:1"])
        assert caught.value.code == defaults.EXIT_CONFIG
        assert "not allowed with argument" in capsys.readouterr().err


class TestTestCommand:
    def test_the_example_route_tests_pass(self) -> None:
        """`karafkad test config/routes_test.yaml` exits 0 with a count of passed tests."""
        result = _karafkad("test", str(EXAMPLE_TESTS))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("route tests passed")
        assert result.stderr == ""

    def test_the_tests_beside_the_routes_file_are_found(self) -> None:
        """Without a file, `karafkad test -c routes.yaml` runs routes_test.yaml beside it."""
        result = _karafkad("test", "-c", str(EXAMPLE), "-v")
        assert result.returncode == 0, result.stderr
        assert "PASS an audit tombstone becomes a job with params null" in result.stdout

    def test_a_deliberately_wrong_test_fails_with_a_clear_diff(self, tmp_path: Path) -> None:
        """A test expecting the wrong queue exits 1, naming the test and showing expected (-) and actual (+)."""
        wrong = EXAMPLE_TESTS.read_text().replace("routes: routes.yaml", f"routes: {EXAMPLE}").replace(
            "        enqueue: {queue: analytics, function: audit.store_line, params: user ada logged in}",
            "        enqueue: {queue: audit, function: audit.store_line, params: user ada logged in}")
        path = tmp_path / "wrong_test.yaml"
        path.write_text(wrong)
        result = _karafkad("test", str(path))
        assert result.returncode == defaults.EXIT_CONFIG
        err = result.stderr.splitlines()
        failed = next(i for i, line in enumerate(err) if "FAIL" in line)
        assert err[failed] == f"{path}:104: FAIL an audit line is passed on as text"
        assert err[failed + 1:failed + 4] == ["    --- expected", "    +++ actual", "    @@ -1,5 +1,5 @@"]
        assert "    -    queue: audit" in err and "    +    queue: analytics" in err
        assert err[-1].endswith("11 route tests passed, 1 failed")

    def test_a_missing_tests_file_is_named(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """No route tests beside the routes file: exit 1 naming the file it looked for."""
        assert main(["test", "-c", str(tmp_path / "shop.yaml")]) == defaults.EXIT_CONFIG
        assert f"expected {tmp_path / 'shop_test.yaml'}" in capsys.readouterr().err


class TestProduceCommand:
    def test_a_header_must_be_name_equals_value(self, capsys: pytest.CaptureFixture[str]) -> None:
        """-H without = is refused before anything connects."""
        assert main(["produce", "-t", "t", "-b", "127.0.0.1:1", "-H", "nope"]) == defaults.EXIT_CONFIG
        assert "--header 'nope' is not NAME=VALUE" in capsys.readouterr().err

    def test_a_bad_routes_file_is_reported_like_check_does(self, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
        """The routes file's problems are listed, exit 1."""
        assert main(["produce", "-t", "t", "-c", str(tmp_path / "nope.yaml")]) == defaults.EXIT_CONFIG
        assert "cannot read the file" in capsys.readouterr().err

    def test_an_unreadable_input_file_is_named(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A FILE that cannot be opened: exit 1 with the reason."""
        assert main(["produce", "-t", "t", "-b", "127.0.0.1:1", str(tmp_path / "none.jsonl")]) == 1
        assert "cannot read: No such file or directory" in capsys.readouterr().err

    def test_an_unreachable_cluster_exits_3_and_sends_nothing(self) -> None:
        """No broker at the address: exit 3 (could not run) with the reason, within the timeout."""
        result = _karafkad("produce", "-t", "t", "-b", "127.0.0.1:1", "--timeout", "1", stdin=b'{"a": 1}\n')
        assert result.returncode == defaults.EXIT_RUNTIME, result.stderr
        assert "cannot produce to 't': cannot connect to Kafka at 127.0.0.1:1" in result.stderr
        assert result.stdout == ""
