"""text.py: the words and layouts every floor shows people, one copy each."""

from __future__ import annotations

import pytest

from karafkad.text import clip, close_match, columns, plural, printable


class TestPlural:
    @pytest.mark.parametrize(("count", "said"), [(0, "0 partitions"), (1, "1 partition"), (2, "2 partitions"),
                                                 (1200, "1,200 partitions")])
    def test_one_is_singular_every_other_count_plural_with_thousands_separated(self, count: int, said: str) -> None:
        """1 partition, 0 and 2 partitions; large counts are easy to read."""
        assert plural(count, "partition") == said

    def test_a_phrase_gets_its_last_word_pluralised(self) -> None:
        """The s goes at the end: `2 route tests`, `3 dead letters`."""
        assert plural(2, "route test") == "2 route tests"


class TestPrintable:
    def test_utf8_is_text_and_other_bytes_are_escaped(self) -> None:
        """A key as people read it: `café` as it is, a byte that is no UTF-8 as `\\xff`."""
        assert printable("café".encode()) == "café"
        assert printable(b"a\xffb") == "a\\xffb"


class TestClip:
    def test_short_text_is_kept_on_one_line(self) -> None:
        """Whitespace runs and line breaks become single spaces; nothing is cut when it fits."""
        assert clip("a\n  b\tc", 10) == "a b c"

    def test_long_text_is_cut_to_the_width_with_an_ellipsis(self) -> None:
        """Exactly `width` characters, the last one saying the text goes on."""
        assert clip("abcdefghij", 5) == "abcd…"
        assert len(clip("x" * 100, 60)) == 60


class TestCloseMatch:
    def test_offers_the_choice_a_typo_looks_like(self) -> None:
        """The one "did you mean" of every message; nothing when nothing is close."""
        assert close_match("retention.msx", ["cleanup.policy", "retention.ms"]) == "retention.ms"
        assert close_match("zzzz", ["retention.ms"]) is None

    def test_the_same_choices_in_any_order_give_the_same_answer(self) -> None:
        """Sets and dict keys iterate in any order: the answer does not depend on it."""
        assert close_match("hanlder", {"handler", "handlers"}) == close_match("hanlder", ["handlers", "handler"])


class TestColumns:
    def test_each_column_is_as_wide_as_its_widest_cell(self) -> None:
        """Two spaces between columns; no trailing spaces."""
        assert columns([("KIND", "TOPIC"), ("add partitions", "orders"), ("note", "")]) == [
            "KIND            TOPIC",
            "add partitions  orders",
            "note",
        ]

    def test_no_rows_are_no_lines(self) -> None:
        """An empty table prints nothing, not an empty line."""
        assert columns([]) == []
