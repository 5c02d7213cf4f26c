"""cli/output.py: what every command prints the same way: a routes file's problems, sizes, and a progress bar."""

from __future__ import annotations

import io

import pytest
from clocks import Clock

from karafkad.cli import output
from karafkad.cli.output import Progress, print_problems, progress_bar, size
from karafkad.errors import ConfigError, Problem


class TestPrintProblems:
    def test_one_line_a_problem_then_the_count(self) -> None:
        """FILE:LINE:COL: path: message per problem, sorted as ConfigError sorts them, then "N problems found"."""
        stream = io.StringIO()
        print_problems(ConfigError([Problem("r.yaml", 9, 1, "b", "late"), Problem("r.yaml", 2, 3, "a", "early")]),
                       stream)
        assert stream.getvalue().splitlines() == ["r.yaml:2:3: a: early", "r.yaml:9:1: b: late", "2 problems found"]

    def test_stderr_by_default(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Problems are errors: they go to stderr unless a stream is given."""
        print_problems(ConfigError([Problem("r.yaml", 0, 0, "", "cannot read the file")]))
        captured = capsys.readouterr()
        assert (captured.out, captured.err) == ("", "r.yaml: cannot read the file\n1 problem found\n")


class TestSize:
    @pytest.mark.parametrize(("count", "text"), [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (1500, "1.5 kB"),
                                                 (2_000_000, "2.0 MB"), (3_400_000_000, "3.4 GB"),
                                                 (5_000_000_000_000, "5000.0 GB")])
    def test_bytes_for_people(self, count: int, text: str) -> None:
        """Bytes below 1000, then kB, MB and GB with one decimal (GB is the largest unit)."""
        assert size(count) == text


class TestProgress:
    """Progress: a one-line bar, redrawn at most ten times a second; progress_bar only on a terminal."""

    def test_draws_a_bar_with_share_lines_and_sizes(self) -> None:
        """One carriage-returned line: bar, percentage, lines, bytes done of the total; a newline at the end."""
        stream = io.StringIO()
        progress = Progress(2_000_000, stream)
        progress.update(1_000_000, "1,234 lines  1.0 MB/2.0 MB", force=True)
        progress.finish(2_000_000, "2,000 lines  2.0 MB/2.0 MB")
        frames = stream.getvalue().split("\r")
        assert frames[1] == "[" + "#" * 15 + "-" * 15 + "]  50%  1,234 lines  1.0 MB/2.0 MB"
        assert frames[2].endswith("100%  2,000 lines  2.0 MB/2.0 MB\n")

    def test_redrawn_at_most_ten_times_a_second(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An update within 0.1 s of the last drawing draws nothing, unless forced (finish always draws)."""
        clock = Clock(100.0)
        monkeypatch.setattr(output, "time", clock)
        stream = io.StringIO()
        progress = Progress(10, stream)
        progress.update(1)
        clock.now += 0.05
        progress.update(2)
        clock.now += 0.06
        progress.update(3)
        assert [frame.split("]")[1].strip() for frame in stream.getvalue().split("\r")[1:]] == ["10%", "30%"]

    def test_a_share_past_the_total_stays_full_and_an_empty_total_counts_as_one(self) -> None:
        """More done than the total is 100%, not a bar past its end; a total of 0 does not divide by zero."""
        stream = io.StringIO()
        Progress(0, stream).update(5, force=True)
        assert stream.getvalue() == "\r[" + "#" * Progress.WIDTH + "] 100%  "

    def test_only_a_terminal_gets_a_bar(self) -> None:
        """Logs and pipes get None, so a command writes no carriage returns into a file."""
        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        assert progress_bar(10, io.StringIO()) is None
        bar = progress_bar(10, Terminal())
        assert bar is not None and bar.total == 10
