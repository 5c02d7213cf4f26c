"""cli/produce.py: `karafkad produce`'s loop (each line one message, failures named by line) without a broker, and the
command as a user runs it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from console import run_karafkad
from kafka_fakes import FakeClient, make_producer

from karafkad import defaults
from karafkad.cli.main import main
from karafkad.cli.produce import produce_lines


class TestProduceLines:
    def _run(self, text: bytes, **options: Any) -> tuple[int, str, str, FakeClient]:
        producer, client = make_producer()
        out, err = io.StringIO(), io.StringIO()
        code = produce_lines(producer, "t", io.BytesIO(text), out=out, err=err, **options)
        return code, out.getvalue(), err.getvalue(), client

    def test_each_line_is_one_message_sent_as_its_bytes(self) -> None:
        """Line endings (\\n, \\r\\n) are cut, blank lines skipped, the last line needs no newline."""
        code, out, err, client = self._run(b'{"a": 1}\r\n\n  \nplain text\n{"b":2}', key="k",
                                           headers=[("h", "v")])
        assert code == defaults.EXIT_OK, err
        assert [r["value"] for r in client.sent] == [b'{"a": 1}', b"plain text", b'{"b":2}']
        assert {r["key"] for r in client.sent} == {b"k"}
        assert out.startswith("3 messages sent to 't' in ") and out.rstrip().endswith("2 blank lines skipped")

    def test_json_mode_lists_lines_that_are_not_json_and_sends_the_rest(self) -> None:
        """--json: an invalid line is named by number and not sent; the exit status is 1."""
        code, out, err, client = self._run(b'{"a": 1}\nnope\n[2]\n', validate_json=True)
        assert code == defaults.EXIT_CONFIG
        assert err.startswith("line 2: invalid JSON")
        assert [r["value"] for r in client.sent] == [b'{"a": 1}', b"[2]"]
        assert "2 messages sent" in out and "1 line NOT sent" in out

    def test_refused_lines_are_named_by_number(self) -> None:
        """Lines the broker refuses (or the client cannot queue) are listed with their line numbers."""
        producer, client = make_producer()
        client.refuse.add(b"refused")
        out, err = io.StringIO(), io.StringIO()
        code = produce_lines(producer, "t", io.BytesIO(b"ok\nrefused\n" + b"x" * 2000 + b"\n"), out=out, err=err)
        assert code == defaults.EXIT_CONFIG
        assert "line 2: MessageSizeTooLargeError: The server has a configurable maximum" in err.getvalue()
        assert "line 3: MessageSizeTooLargeError: The message is 2000 bytes" in err.getvalue()
        assert "1 message sent" in out.getvalue() and "2 lines NOT sent" in out.getvalue()

    def test_an_unknown_topic_sends_nothing_and_exits_3(self) -> None:
        """Kafka or the topic unreachable: nothing is read or sent, exit 3 (could not run)."""
        producer, client = make_producer()
        err = io.StringIO()
        code = produce_lines(producer, "nope", io.BytesIO(b"a\n"), out=io.StringIO(), err=err)
        assert code == defaults.EXIT_RUNTIME
        assert "cannot produce to 'nope'" in err.getvalue() and client.sent == []


class TestProduceCommand:
    """run: the options checked before anything connects, and an unreachable cluster."""

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
        result = run_karafkad("produce", "-t", "t", "-b", "127.0.0.1:1", "--timeout", "1", stdin=b'{"a": 1}\n')
        assert result.returncode == defaults.EXIT_RUNTIME, result.stderr
        assert "cannot produce to 't': cannot connect to Kafka at 127.0.0.1:1" in result.stderr
        assert result.stdout == ""
