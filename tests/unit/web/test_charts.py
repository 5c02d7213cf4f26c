"""web/charts.py: the history drawn as SVG on the daemon: a polyline per group or queue, counts as rates, gaps
kept, long spans thinned, read and drawn at most once per interval."""

from __future__ import annotations

import re

from karafkad.store import history
from karafkad.web import charts
from karafkad.web.charts import CHARTS, History

RATE, READING = CHARTS[0], CHARTS[3]


def polylines(svg: str) -> list[list[tuple[float, float]]]:
    return [[(float(x), float(y)) for x, y in (p.split(",") for p in found.split())]
            for found in re.findall(r'<polyline class="line c\d" points="([^"]+)"', svg)]


class TestDraw:
    def test_counts_are_drawn_as_rates_on_a_nice_scale(self) -> None:
        """200 messages in a 10 s step is 20/s: the scale's top is 20/s, the line reaches it."""
        svg = charts.draw(RATE, {"shop": [(1000.0, 100), (1010.0, 200)]}, 1000.0, 1010.0)
        [line] = polylines(svg)
        assert line[0][0] == charts.LEFT and line[-1][0] == charts.WIDTH
        assert line[-1][1] == charts.TOP  # the highest value on the top line
        assert ">20/s</text>" in svg and "shop <b>20/s</b>" in svg

    def test_a_count_s_scale_is_marked_in_whole_numbers(self) -> None:
        """A lag of 0 or 1, or up to 5: the middle line is a whole number (1, then 2... not 0.5 shown as 0)."""
        def marks(top: int) -> list[str]:
            svg = charts.draw(READING, {"shop": [(0.0, 0), (10.0, top)]}, 0.0, 10.0)
            return re.findall(r'text-anchor="end">(\d+)</text>', svg)

        assert (marks(0), marks(1), marks(3), marks(5), marks(30)) == (
            ["0", "1", "2"], ["0", "1", "2"], ["0", "2", "4"], ["0", "5", "10"], ["0", "20", "40"])

    def test_a_gap_splits_the_line_and_a_lone_point_is_a_dot(self) -> None:
        """A gap splits the line and a lone point is a dot."""
        svg = charts.draw(READING, {"shop": [(0.0, 1), (10.0, 2), (50.0, 3)]}, 0.0, 60.0)
        assert len(polylines(svg)) == 1 and svg.count('<circle class="dot c0"') == 1

    def test_one_line_per_subject_each_its_colour_and_names_escaped(self) -> None:
        """One line per subject each its colour and names escaped."""
        svg = charts.draw(READING, {"b<x>": [(0.0, 1), (10.0, 1)], "a": [(0.0, 2), (10.0, 2)]}, 0.0, 10.0)
        assert re.findall(r'class="line (c\d)"', svg) == ["c0", "c1"]
        assert "b&lt;x&gt;" in svg and "<x>" not in svg

    def test_no_data_yet_is_said(self) -> None:
        """No data yet is said."""
        assert "no data yet" in charts.draw(RATE, {}, 0.0, 10.0)


class TestCharts:
    def test_a_young_deployment_is_drawn_from_its_first_point(self) -> None:
        """Thirty seconds of history on a one-hour chart would be a sliver: the axis starts at the first point
        (MIN_SPAN at least), not an hour ago."""
        card = charts.charts({"group:lag:shop": [(9970.0, 1), (9980.0, 2)]}, None, "1h", 10_000.0)
        first_label = re.search(r'<text class="axis" x="[\d.]+" y="\d+" text-anchor="start">([\d:]+)<', card)
        assert first_label is not None and first_label.group(1) == "02:44:40"  # 10000 - MIN_SPAN


class TestThin:
    def test_long_spans_are_averaged_in_runs_that_never_bridge_a_gap(self) -> None:
        """Long spans are averaged in runs that never bridge a gap."""
        points = [(float(t), 1.0) for t in range(0, 4000, 10)] + [(float(t), 3.0) for t in range(5000, 6000, 10)]
        thinned, step = charts.thin(points, 10.0, most=100)
        assert len(thinned) <= 110 and step == 50.0
        assert {v for _, v in thinned} == {1.0, 3.0}  # no run mixes the two sides of the gap

    def test_few_points_stay_as_they_are(self) -> None:
        """Few points stay as they are."""
        assert charts.thin([(0.0, 1.0)], 10.0) == ([(0.0, 1.0)], 10.0)


class TestHistory:
    def test_read_and_drawn_at_most_once_per_interval(self) -> None:
        """Many browsers refreshing cost Redis one read per interval, and the page one drawing of it."""
        clock, reads = [0.0], []

        def read(since: float, now: float) -> dict[str, history.Points]:
            reads.append((since, now))
            return {"group:lag:shop": [(now - 10, 1), (now, 2)]}

        found = History(read, clock=lambda: clock[0], wall=lambda: 10_000.0)
        first = found.drawn("1h")
        assert found.drawn("1h") is first and reads == [(10_000.0 - 3600, 10_000.0)]
        clock[0] += charts.HISTORY_READ_INTERVAL
        found.drawn("1h")
        assert len(reads) == 2
        assert "lag" in first and 'data-series="1"' in first

    def test_a_history_that_cannot_be_read_is_said_on_the_page(self) -> None:
        """A history that cannot be read is said on the page."""
        def down(since: float, now: float) -> dict[str, history.Points]:
            raise ConnectionError("refused")

        assert "History unavailable" in History(down).drawn("15m")
