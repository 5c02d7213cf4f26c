"""web/html.py: the console's HTML pieces: escaping, numbers, and the action buttons only for who may act."""

from __future__ import annotations

import pytest

from karafkad.web.html import READ_ONLY, Viewer, action, esc, fmt_count, fmt_duration, fmt_rate, table


class TestFormatting:
    @pytest.mark.parametrize(("value", "text"), [(None, "—"), (0, "0"), (3.0, "3"), (12345.0, "12,345")])
    def test_counts(self, value: float | None, text: str) -> None:
        """Counts are whole numbers with thousands separators; unknown is a dash."""
        assert fmt_count(value) == text

    @pytest.mark.parametrize(("value", "text"), [(None, "—"), (0, "0/s"), (0.25, "0.2/s"), (9.5, "9.5/s"),
                                                 (12.4, "12/s"), (4321.0, "4,321/s")])
    def test_rates(self, value: float | None, text: str) -> None:
        """Rates keep one decimal below 10/s, none above."""
        assert fmt_rate(value) == text

    def test_durations(self) -> None:
        """Uptime and ages as times.duration writes them; unknown is a dash."""
        assert (fmt_duration(None), fmt_duration(125)) == ("—", "2 min 5 s")

    def test_escaping_covers_attributes(self) -> None:
        """Quotes too: a value inside an attribute cannot end it."""
        assert esc('"><script>') == "&quot;&gt;&lt;script&gt;"


class TestAction:
    def test_no_button_for_a_viewer_who_may_not_act(self) -> None:
        """Read-only consoles, and signed-out viewers of one with web.auth, get no form at all."""
        assert action(READ_ONLY, "/actions/pause", "Pause", {"route": "r"}) == ""
        assert action(Viewer(True), "/actions/pause", "Pause", {"route": "r"}) == ""

    def test_a_button_posts_its_fields_and_the_csrf_token(self) -> None:
        """Every value is escaped, and the session's CSRF token rides along."""
        form = action(Viewer(True, "ops", "c<s>rf"), "/actions/pause", "Pause", {"route": '"evil'},
                      confirm="Sure?")
        assert form.startswith('<form class="act" method="post" action="/actions/pause" data-confirm="Sure?">')
        assert '<input type="hidden" name="route" value="&quot;evil">' in form
        assert '<input type="hidden" name="csrf" value="c&lt;s&gt;rf">' in form


class TestTable:
    def test_number_columns_are_marked(self) -> None:
        """A title starting with # is a right-aligned number column (the # is not shown)."""
        assert table(["Name", "#Lag"], ["<tr></tr>"]).count('<th class="num">Lag</th>') == 1
