"""cli/dead_letters.py: an unknown --route is a usage error with a close match; the docs' synopsis is the parser's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tables import make_table

from karafkad import defaults
from karafkad.cli.main import main
from karafkad.cli.parser import build_parser

OPERATIONS = Path(__file__).resolve().parents[3] / "docs" / "operations.md"


class TestUnknownRoute:
    @pytest.mark.parametrize("action", ["list", "redrive"])
    def test_a_misspelt_route_is_an_error_naming_the_routes(self, tmp_path: Path, action: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
        """`--route chrage`: exit 1 before Kafka is asked, with the close match and every route of the file."""
        make_table(tmp_path, {"billing": {"routes": [
            {"name": "charge", "topic": "payments", "handler": "h.handle", "dead_letter": "payments.dead"},
            {"name": "refund", "topic": "payments", "handler": "h.handle"}]}})
        code = main(["dead-letters", action, "-c", str(tmp_path / "routes.yaml"), "--route", "chrage"])
        err = capsys.readouterr().err
        assert code == defaults.EXIT_CONFIG
        assert "no route 'chrage' (did you mean 'charge'?) in " in err
        assert "its routes: charge, refund" in err


class TestSynopsis:
    def test_the_operations_synopsis_names_every_option_of_the_command(self) -> None:
        """docs/operations.md's two synopsis lines, together, have exactly the options `--help` lists."""
        text = OPERATIONS.read_text("utf-8")
        lines = re.findall(r"^karafkad dead-letters (?:list|redrive) .*$", text, re.MULTILINE)
        assert len(lines) == 2
        documented = {m for line in lines for m in re.findall(r"\[(-[-\w]+)", line)}
        commands = next(a for a in build_parser()._actions if a.dest == "command")
        parser = commands.choices["dead-letters"]  # type: ignore[index]
        options = {a.option_strings[0] for a in parser._actions if a.option_strings and a.dest != "help"}
        assert documented == options


class TestRedriveAt:
    @pytest.mark.parametrize(("args", "said"), [(["redrive", "--at", "dead:0"], "--at is TOPIC:PARTITION:OFFSET"),
                                                (["list", "--at", "dead:0:1"], "--at is for redrive")])
    def test_a_place_that_is_no_place_is_exit_1(self, tmp_path: Path, args: list[str], said: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
        """A place that is no place is exit 1."""
        make_table(tmp_path, {"billing": {"routes": [
            {"name": "charge", "topic": "payments", "handler": "h.handle", "dead_letter": "dead"}]}})
        code = main(["dead-letters", args[0], "-c", str(tmp_path / "routes.yaml"), *args[1:]])
        assert code == defaults.EXIT_CONFIG and said in capsys.readouterr().err
