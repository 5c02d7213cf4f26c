"""pipeline/trace.py: how `karafkad explain` shows a value of a step (recording the steps is
tests/unit/pipeline/test_steps.py's)."""

from __future__ import annotations

from karafkad.pipeline.trace import SHOWN_CHARACTERS, TraceStep, show


class TestShow:
    def test_a_value_is_shown_as_json_unescaped(self) -> None:
        """Mappings, lists, null and text as JSON, with non-ASCII text as written."""
        assert show({"name": "Zoë", "tags": [1, None, True]}) == '{"name": "Zoë", "tags": [1, null, true]}'

    def test_what_json_cannot_say_is_its_repr(self) -> None:
        """Bytes (a `raw` route's value) and other Python objects show as their repr instead of failing."""
        assert show({"raw": b"\x00\xff"}) == "{\"raw\": \"b'\\\\x00\\\\xff'\"}"

    def test_a_long_value_is_clipped_with_an_ellipsis(self) -> None:
        """At most SHOWN_CHARACTERS, the last three of them `...`; a value that fits is whole."""
        long = show("x" * 1000)
        assert len(long) == SHOWN_CHARACTERS and long.endswith("...") and long.startswith('"xxx')
        fits = "y" * (SHOWN_CHARACTERS - 2)
        assert show(fits) == f'"{fits}"'


class TestTraceStep:
    def test_a_step_is_route_label_and_result(self) -> None:
        """The three fields explain prints per step, in that order."""
        step = TraceStep("orders", "schema", "valid")
        assert tuple(step) == ("orders", "schema", "valid")
        assert (step.route, step.label, step.result) == ("orders", "schema", "valid")
