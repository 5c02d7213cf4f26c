"""cli/pauses.py: `karafkad pause|resume|paused`, the console's buttons from the command line, with their exit
codes (1 for a target the routes file does not have, 3 for Redis unreachable)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from redis_fakes import FakeRedis
from tables import make_table

from karafkad import defaults
from karafkad.cli.main import main
from karafkad.store import events


@pytest.fixture
def routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, FakeRedis]:
    make_table(tmp_path, {"shop": {"routes": [{"name": "orders", "topic": "o", "handler": "h.handle"}]}})
    client = FakeRedis()
    monkeypatch.setattr("karafkad.cli.pauses.connect", lambda settings: client)
    return str(tmp_path / "routes.yaml"), client


class TestPauseCommands:
    def test_pause_list_resume(self, routes: tuple[str, FakeRedis], capsys: pytest.CaptureFixture[str]) -> None:
        """What each did is printed; the events list names who ran it (user@host, from the command line)."""
        config, client = routes
        assert main(["pause", "-c", config, "--route", "orders"]) == defaults.EXIT_OK
        assert "route orders (group shop) paused by " in capsys.readouterr().out
        assert main(["pause", "-c", config, "--partition", "o:2"]) == defaults.EXIT_OK
        capsys.readouterr()
        assert main(["paused", "-c", config]) == defaults.EXIT_OK
        listing = capsys.readouterr().out.splitlines()
        assert listing[0].split() == ["GROUP", "PAUSED", "BY", "SINCE"]
        assert "route orders" in listing[1] and "partition o[2]" in listing[2] and listing[-1] == "2 pauses in force"
        assert main(["resume", "-c", config, "-r", "orders"]) == defaults.EXIT_OK
        assert "route orders (group shop) resumed by" in capsys.readouterr().out
        assert events.recent(client)[0]["who"].endswith("(command line)")  # type: ignore[arg-type]

    @pytest.mark.parametrize(("args", "said"), [(["--route", "ordres"], "did you mean 'orders'?"),
                                                (["--partition", "o"], "--partition is TOPIC:N"),
                                                (["--partition", "x:1"], "consumes topic 'x'")])
    def test_a_target_the_file_does_not_have_is_exit_1(self, routes: tuple[str, FakeRedis], args: list[str],
                                                        said: str, capsys: pytest.CaptureFixture[str]) -> None:
        """A target the file does not have is exit 1."""
        config, client = routes
        assert main(["pause", "-c", config, *args]) == defaults.EXIT_CONFIG
        assert said in capsys.readouterr().err and client.round_trips == 0

    def test_redis_unreachable_is_exit_3(self, routes: tuple[str, FakeRedis],
                                         capsys: pytest.CaptureFixture[str]) -> None:
        """Redis unreachable is exit 3."""
        config, client = routes
        client.fail = redis.ConnectionError("Error 111 connecting")
        assert main(["pause", "-c", config, "--route", "orders"]) == defaults.EXIT_RUNTIME
        assert "Redis: " in capsys.readouterr().err
