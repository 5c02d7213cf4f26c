"""errors.py: the errors karafkad raises on purpose, told apart by class, and the one problem type of a routes file."""

from __future__ import annotations

import pytest

from karafkad.errors import (
    ConfigError,
    DecodeError,
    EnqueueError,
    ExpressionError,
    HaltServer,
    KarafkadError,
    PluginError,
    Problem,
    ReplicasBehind,
    SchemaError,
)


class TestProblem:
    def test_printed_as_file_line_column_path_message(self) -> None:
        """FILE:LINE:COL: path: message, as editors and `karafkad check` print them."""
        assert str(Problem("r.yaml", 3, 7, "groups.g.threads", "must be >= 1")) == \
            "r.yaml:3:7: groups.g.threads: must be >= 1"

    def test_without_a_line_or_a_path_those_parts_are_left_out(self) -> None:
        """A problem of the whole file (line 0) names only the file; one with no path has no `path:`."""
        assert str(Problem("r.yaml", 0, 0, "", "cannot read the file")) == "r.yaml: cannot read the file"
        assert str(Problem("r.yaml", 2, 1, "", "YAML syntax: ...")) == "r.yaml:2:1: YAML syntax: ..."

    def test_problems_sort_by_file_then_position(self) -> None:
        """Problems are ordered as they stand in the files (then by path and message)."""
        late, early, other = Problem("a", 9, 1, "", "x"), Problem("a", 2, 5, "", "y"), Problem("b", 1, 1, "", "z")
        assert sorted([other, late, early]) == [early, late, other]


class TestConfigError:
    def test_carries_every_problem_sorted_and_says_them_one_a_line(self) -> None:
        """The problems in file order; the message is their lines."""
        error = ConfigError([Problem("r", 5, 1, "b", "second"), Problem("r", 1, 1, "a", "first")])
        assert [p.message for p in error.problems] == ["first", "second"]
        assert str(error) == "r:1:1: a: first\nr:5:1: b: second"


class TestExpressionError:
    def test_the_column_leads_the_message_when_known(self) -> None:
        """`column N: message`, the column 1-based in the expression; column 0 (unknown) adds nothing."""
        error = ExpressionError("operator ** is not supported", 10)
        assert (str(error), error.message, error.column) == (
            "column 10: operator ** is not supported", "operator ** is not supported", 10)
        assert str(ExpressionError("empty")) == "empty"


class TestHierarchy:
    def test_bad_values_are_value_errors_too(self) -> None:
        """Errors about a bad value derive from ValueError as Python's own do, and all from KarafkadError."""
        for error in (PluginError, SchemaError, ExpressionError, DecodeError):
            assert issubclass(error, KarafkadError) and issubclass(error, ValueError)

    def test_replicas_behind_is_a_failed_write(self) -> None:
        """Fewer replicas than asked: handled wherever a failed Redis write is (nothing may be assumed written)."""
        assert issubclass(ReplicasBehind, EnqueueError)

    def test_halt_server_gets_past_except_exception(self) -> None:
        """A shutdown cannot be swallowed by an application's `except Exception`; it carries reason and status."""
        with pytest.raises(HaltServer) as caught:
            try:
                raise HaltServer("forced", 2)
            except Exception:  # what an application's handler might write
                pytest.fail("HaltServer was caught as an Exception")
        assert (caught.value.reason, caught.value.exit_status, str(caught.value)) == ("forced", 2, "forced")
