"""cli/parser.py: every command and option, read the way `--help` says; a usage error exits 1, not argparse's 2."""

from __future__ import annotations

import argparse

import pytest

from karafkad import __version__, defaults
from karafkad.cli.parser import build_parser, time_ms


class TestParser:
    """build_parser: the commands, their options and their types."""

    def test_every_subcommand_is_there(self) -> None:
        """The daemon's commands, and the operator's: replay, dead-letters, held keys, and the console's actions."""
        parser = build_parser()
        commands = next(a for a in parser._actions if a.dest == "command")
        assert set(commands.choices) == {"start", "check", "routes", "explain", "test", "produce", "worker",
                                         "stop", "reload", "status", "replay", "dead-letters", "topics", "held",
                                         "pause", "resume", "paused", "web-password"}

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

    def test_a_usage_error_exits_1_with_the_usage(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Exit 1 (invalid arguments), because 2 means a forced shutdown; the usage line and the error on stderr."""
        with pytest.raises(SystemExit) as exited:
            build_parser().parse_args(["start", "--nope"])
        assert exited.value.code == defaults.EXIT_CONFIG
        err = capsys.readouterr().err
        assert err.startswith("usage: karafkad") and "karafkad: error: unrecognized arguments: --nope" in err

    def test_a_command_is_required(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`karafkad` alone is a usage error naming COMMAND."""
        with pytest.raises(SystemExit) as exited:
            build_parser().parse_args([])
        assert exited.value.code == defaults.EXIT_CONFIG
        assert "the following arguments are required: COMMAND" in capsys.readouterr().err

    def test_counts_are_one_or_more(self, capsys: pytest.CaptureFixture[str]) -> None:
        """worker -n and dead-letters --limit take a whole number from 1 on; 0 is refused with the reason."""
        assert build_parser().parse_args(["worker", "-n", "3"]).processes == 3
        with pytest.raises(SystemExit):
            build_parser().parse_args(["dead-letters", "list", "--limit", "0"])
        assert "must be 1 or more, not 0" in capsys.readouterr().err

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--version prints the package's version and exits 0."""
        with pytest.raises(SystemExit) as exited:
            build_parser().parse_args(["--version"])
        assert exited.value.code == 0
        assert capsys.readouterr().out == f"karafkad {__version__}\n"

    def test_the_help_lists_the_exit_codes_and_signals(self) -> None:
        """The epilog of `karafkad --help` and `karafkad start --help` says what each exit status and signal means."""
        text = build_parser().format_help()
        for code in (defaults.EXIT_OK, defaults.EXIT_CONFIG, defaults.EXIT_FORCED, defaults.EXIT_RUNTIME):
            assert f"\n  {code}  " in text
        assert "SIGHUP\nreloads the routes file" in text


class TestTimeMs:
    """time_ms: a time on the command line (--time, --since, --until), in ms since the epoch."""

    def test_iso_8601_and_epoch_seconds_or_milliseconds(self) -> None:
        """The same instant written three ways."""
        assert time_ms("2026-11-30T08:00:00Z") == time_ms("1796025600") == time_ms("1796025600000") == \
            1_796_025_600_000

    def test_anything_else_is_an_argument_error_with_the_forms_it_takes(self) -> None:
        """argparse shows the message as the option's error."""
        with pytest.raises(argparse.ArgumentTypeError, match="'last week' is not an ISO 8601 time"):
            time_ms("last week")
