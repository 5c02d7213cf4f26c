"""`karafkad check`, `routes` and `explain`, and the broken-routes corpus run through the real CLI."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest
from console import karafkad_script

from karafkad import defaults
from karafkad.cli import main

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "routes.yaml"
CORPUS = ROOT / "tests" / "fixtures" / "broken_routes"
HUGE = "huge-20MB.yaml"


pytestmark = pytest.mark.usefixtures("isolated_imports")


class Case(NamedTuple):
    file: str
    line: int
    expected: str


def corpus() -> list[Case]:
    """The cases of tests/fixtures/broken_routes/expected.txt (FILE:LINE: expected text)."""
    cases = []
    for row in (CORPUS / "expected.txt").read_text().splitlines():
        if row.strip() and not row.startswith("#"):
            file, line, expected = row.split(":", 2)
            cases.append(Case(file, int(line), expected.strip()))
    return cases


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    """`karafkad check -c path` as a user runs it, without the corpus's variables set.

    The timeout catches a check that hangs or blows up on a hostile file (a 20 MB file, a filter nested
    thousands deep); how fast a check is belongs to the benchmark, not to an assert that a loaded machine
    fails."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KARAFKAD_CORPUS_")}
    return subprocess.run([karafkad_script(), "check", "-c", str(path)], capture_output=True, text=True,
                          errors="backslashreplace", env=environ, timeout=30)


class TestBrokenRoutesCorpus:
    def test_corpus_and_index_agree(self) -> None:
        """Every file of the corpus has an expectation, every expectation a file, and there are at least 30."""
        files = {p.name for p in CORPUS.glob("*.yaml")}
        cases = [c.file for c in corpus()]
        assert len(cases) == len(set(cases))
        assert files == set(cases)
        assert len(files) >= 30

    @pytest.mark.parametrize("case", [*corpus(), Case(HUGE, 1, "a routes file may be at most 1024 KiB")],
                             ids=lambda case: case.file)
    def test_each_broken_file_is_refused_clearly(self, case: Case, tmp_path: Path) -> None:
        """Exit 1, a short FILE:LINE:COL report naming the right problem, no traceback (and no hang)."""
        if case.file == HUGE:
            path = tmp_path / HUGE
            block = "# padding for a file too large to be a routes file\n" * 1000
            with path.open("w") as handle:
                handle.write(EXAMPLE.read_text())
                while handle.tell() < 20_000_000:
                    handle.write(block)
        else:
            path = CORPUS / case.file
        result = run_check(path)
        output = result.stdout + result.stderr
        assert result.returncode == defaults.EXIT_CONFIG, output
        assert "Traceback" not in output
        first = result.stderr.splitlines()[0]
        where = re.match(rf"{re.escape(str(path))}:(\d+):(\d+): ", first)
        assert where, first
        assert int(where.group(1)) == case.line, first
        assert int(where.group(2)) >= 1
        assert case.expected in output
        assert re.search(r"^\d+ problems? found$", result.stderr, re.MULTILINE)
        assert len(output) < 1500, output
        assert result.stdout == ""


class TestCheck:
    def test_example_passes_through_the_real_command(self) -> None:
        """config/routes.yaml checks: exit 0 and a one-line summary."""
        result = subprocess.run([karafkad_script(), "check", "-c", str(EXAMPLE)], capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        assert lines[-2].endswith("OK: 3 groups, 5 routes, 4 queues")
        assert lines[-1] == "compression codecs this installation reads: gzip, snappy, lz4, zstd"
        assert result.stderr == ""

    def test_warnings_are_printed_but_do_not_fail(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A route without a dead-letter topic is a warning on stdout; the exit is still 0."""
        (tmp_path / "handlers").mkdir()
        (tmp_path / "handlers" / "kd_inspect_warn.py").write_text("def f(params): ...\n")
        path = tmp_path / "routes.yaml"
        path.write_text("groups:\n  g:\n    routes:\n      - {topic: a, handler: kd_inspect_warn.f}\n")
        assert main(["check", "-c", str(path)]) == 0
        out = capsys.readouterr().out
        assert "no dead_letter topic" in out and "(warning)" in out
        assert "OK: 1 group, 1 route, 1 queue\n" in out

    def test_quiet(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--quiet prints nothing for a good file."""
        assert main(["check", "-q", "-c", str(EXAMPLE)]) == 0
        assert capsys.readouterr() == ("", "")

    def test_every_problem_listed_with_a_count(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A bad file lists its problems on stderr and how many there are."""
        assert main(["check", "-c", str(CORPUS / "dead_letter_cycle.yaml")]) == defaults.EXIT_CONFIG
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 3
        assert err[-1] == "2 problems found"

    def test_missing_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A routes file that does not exist is exit 1 with the reason."""
        assert main(["check", "-c", str(tmp_path / "nope.yaml")]) == defaults.EXIT_CONFIG
        assert "cannot read the file: No such file or directory" in capsys.readouterr().err


class TestRoutesCommand:
    def test_table_of_the_example(self, capsys: pytest.CaptureFixture[str]) -> None:
        """One row per route: group, name, topics, handler (+hooks), queue, filter, schema, dead letter, mode."""
        assert main(["routes", "-c", str(EXAMPLE)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split() == ["GROUP", "ROUTE", "TOPICS", "HANDLER", "QUEUE", "FILTER", "SCHEMA", "DEAD",
                                    "LETTER", "MODE"]
        assert len(lines) == 6
        assert lines[1].startswith("shop")
        assert lines[5].startswith("payments") and lines[5].endswith("each/avro")
        assert "orders.process_order +1 hook" in lines[1]
        assert "batch(200,2s)/json" in lines[3]
        assert "shop.dead-letters" in lines[3]
        assert "each/text" in lines[4]

    def test_bad_file(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A bad file is exit 1 with its problems, as with check."""
        assert main(["routes", "-c", str(CORPUS / "filter_power.yaml")]) == defaults.EXIT_CONFIG
        assert "operator ** is not supported" in capsys.readouterr().err


class TestExplain:
    """The demo's sample messages (scripts/demo), explained without Kafka or Redis."""

    @pytest.mark.parametrize(("topic", "key", "value", "expected", "absent"), [
        ("orders", "c1", '{"id": 1, "customer": {"email": "ada@example.com"}, "total": 42.5, "currency": "EUR"}',
         ["=> ENQUEUE kd-orders-", "on queue 'orders': orders.process_order", "filter 'params.total >= 1000"
          " and not exists(params.test)': false"], ["queue 'alerts'"]),
        ("orders", "c2", '{"id": 2, "customer": {"email": "bob@example.com"}, "total": 2500, "currency": "USD"}',
         ["on queue 'orders': orders.process_order", "on queue 'alerts': orders.alert_big_order"], []),
        ("orders", "c3", '{"id": 3, "customer": {"email": "cy@example.com"}, "total": 0, "currency": "EUR"}',
         ["=> SKIP (route orders): filtered", "=> SKIP (route big-orders): filtered"], ["=> ENQUEUE"]),
        ("orders", "c4", '{"id": 4, "customer": {"email": "bot@loadtest.invalid"}, "total": 10, "currency": "EUR"}',
         ["before_enqueue orders.is_real_order: false (veto)"], ["=> ENQUEUE"]),
        ("orders", "c5", '{"id": "five", "total": 1}',
         ["schema: INVALID", "=> DEAD LETTER to 'shop.dead-letters' (route orders, big-orders): schema:"],
         ["=> ENQUEUE"]),
        ("page-views", "u1", '{"page": "/"}', ["on queue 'analytics': analytics.record_views"], []),
        ("page-views", "u3", "not json either", ["decode (json): FAILED: invalid JSON", "=> SKIP (route page-views)"],
         ["=> ENQUEUE", "DEAD LETTER"]),
        ("audit-log", "a1", "user ada logged in", ["on queue 'analytics': audit.store_line(*[\"user ada logged in\"])"],
         []),
        ("audit-log", "a2", "# a comment line, filtered out", ["filter 'not startswith(params, \"#\")': false"],
         ["=> ENQUEUE"]),
    ])
    def test_sample_messages(self, capsys: pytest.CaptureFixture[str], topic: str, key: str, value: str,
                             expected: list[str], absent: list[str]) -> None:
        """Each sample becomes the job, skip, veto or dead letter the demo shows."""
        assert main(["explain", "-c", str(EXAMPLE), "-t", topic, "-k", key, "-v", value]) == 0
        out = capsys.readouterr().out
        for text in expected:
            assert text in out
        for text in absent:
            assert text not in out

    def test_a_tombstone_on_a_skipping_route_shows_the_skip_and_no_schema_step(
            self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """explain prints the pipeline's own trace: a tombstone under `tombstone: skip` is never validated."""
        (tmp_path / "handlers").mkdir()
        (tmp_path / "handlers" / "kd_tomb.py").write_text("def handle(params):\n    return params\n")
        routes = tmp_path / "routes.yaml"
        routes.write_text(textwrap.dedent("""\
            groups:
              g:
                routes:
                  - topic: t
                    name: r
                    handler: kd_tomb.handle
                    on_error: skip
                    tombstone: skip
                    schema: {type: object, required: [id]}
            """))
        assert main(["explain", "-c", str(routes), "-t", "t", "--tombstone"]) == 0
        out = capsys.readouterr().out
        assert "    value: null (tombstone: skip)" in out
        assert "=> SKIP (route r): tombstone" in out
        assert "schema" not in out and "ENQUEUE" not in out

    def test_tombstone(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A null value on audit-log (tombstone: enqueue) becomes a job with params null."""
        assert main(["explain", "-c", str(EXAMPLE), "-t", "audit-log", "--tombstone"]) == 0
        out = capsys.readouterr().out
        assert "value: null (tombstone: enqueue)" in out
        assert "audit.store_line(*[null])" in out

    def test_value_from_a_file_with_headers(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--file reads the value; --header adds headers the job's meta carries."""
        message = tmp_path / "order.json"
        message.write_text('{"id": 9, "customer": {"email": "a@b.c"}, "total": 5000, "currency": "EUR"}')
        assert main(["explain", "-c", str(EXAMPLE), "-t", "orders", "-f", str(message), "-H", "trace=t1",
                     "--partition", "3", "--offset", "77"]) == 0
        out = capsys.readouterr().out
        assert '"headers": {"trace": "t1"}' in out
        assert "-3-77 on queue 'alerts'" in out

    def test_unknown_topic(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A topic no route consumes is exit 1, listing the topics that have routes."""
        assert main(["explain", "-c", str(EXAMPLE), "-t", "nope", "-v", "{}"]) == defaults.EXIT_CONFIG
        assert "topics with routes: audit-log, orders, page-views" in capsys.readouterr().out

    def test_unreadable_message_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A --file that cannot be read is exit 1 with the reason, not a traceback."""
        assert main(["explain", "-c", str(EXAMPLE), "-t", "orders", "-f", str(tmp_path / "nope")]) == 1
        assert "cannot read the message: No such file or directory" in capsys.readouterr().err

    def test_bad_routes_file(self, capsys: pytest.CaptureFixture[str]) -> None:
        """explain on a bad routes file reports its problems and exits 1."""
        assert main(["explain", "-c", str(CORPUS / "empty.yaml"), "-t", "t", "-v", "{}"]) == defaults.EXIT_CONFIG
        assert "file is empty" in capsys.readouterr().err
