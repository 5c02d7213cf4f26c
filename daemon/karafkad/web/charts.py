"""The console's charts: the deployment's history (store/history.py) as SVG line charts, drawn by the daemon.

No script and no external asset draws them: each chart is an inline `<svg>`
of polylines on a fixed grid, with its legend and axis labels as text, so the
page works offline, under a strict Content-Security-Policy, and looks the same
after each refresh. Counts become rates (per second over a step); readings
are drawn as they are. A step no daemon sampled is a gap in the line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from karafkad.store import history
from karafkad.times import clock
from karafkad.web.board import ThrottledRead
from karafkad.web.html import esc, fmt_count, fmt_rate, section

WIDTH, HEIGHT = 440, 140
"""The charts' drawing area in SVG units (scaled to the card's width)."""
LEFT, BOTTOM, TOP = 46, 18, 8
"""Room for the value labels on the left, the time labels below, and the top line."""
RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600}
"""The spans a viewer can choose (the longest is what the history keeps)."""
DEFAULT_RANGE = "1h"
HISTORY_READ_INTERVAL = 5.0
"""Least seconds between two reads of the history from Redis, whoever asks (a step is 10 s)."""
MIN_SPAN = 120.0
"""The narrowest time axis, in seconds: a young deployment's charts span from its first point (at least this),
not the whole range chosen, where its points would be a sliver at the right edge."""
COLOURS = 8
"""Series colours (CSS classes c0..c7); more series reuse them."""
MAX_POINTS = 200
"""Points drawn at most per line (about one per two SVG units of the plot's width): six hours of 10 s steps
(2,160) are averaged over runs of 11 steps, so a page of 50 series stays some 150 KB."""


@dataclass(frozen=True)
class ChartSpec:
    what: str
    """The series' `what` (store/history.py)."""
    title: str
    rate: bool
    """Counts per step, drawn per second."""


CHARTS = (ChartSpec("consumed", "Messages consumed per second, per group", True),
          ChartSpec("enqueued", "Jobs enqueued per second, per group", True),
          ChartSpec("dead_lettered", "Dead letters per second, per group", True),
          ChartSpec("lag", "Lag per group (messages)", False),
          ChartSpec("depth", "Jobs waiting per RQ queue", False))


class History:
    """The deployment's history, read from Redis at most once per HISTORY_READ_INTERVAL per span."""

    def __init__(self, read: Callable[[float, float], dict[str, history.Points]],
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        """`read(since, now)`: store.history.read on the top-level Redis."""
        self.read = read
        self.wall = wall
        self._reads: ThrottledRead[str, tuple[dict[str, history.Points], str | None]] = (
            ThrottledRead(HISTORY_READ_INTERVAL, clock))
        self._drawn: tuple[object, str, str] | None = None
        """(the read it was drawn from, its span, the charts' HTML): drawn again only for a new read (the
        charts are the page's costliest part: tens of milliseconds for 50 series)."""

    def get(self, span: str) -> tuple[dict[str, history.Points], str | None]:
        """(series -> points of the last `span`, None), or ({}, why the history could not be read)."""
        def read(name: str) -> tuple[dict[str, history.Points], str | None]:
            now = self.wall()
            return self.read(now - RANGES[name], now), None

        return self._reads.get(span, read, lambda exc: ({}, str(exc) or type(exc).__name__))

    def drawn(self, span: str) -> str:
        """The charts card of the last `span`, drawn once per read of the history."""
        answer = self.get(span)
        done = self._drawn
        if done is not None and done[0] is answer and done[1] == span:
            return done[2]
        html = charts(answer[0], answer[1], span, self.wall())
        self._drawn = (answer, span, html)
        return html


def by_chart(found: Mapping[str, history.Points]) -> dict[str, dict[str, history.Points]]:
    """Chart `what` -> subject (group or queue) -> points."""
    out: dict[str, dict[str, history.Points]] = {}
    for name, points in found.items():
        parsed = history.parse_series(name)
        if parsed is not None and points:
            _, subject, what = parsed
            out.setdefault(what, {})[subject] = points
    return out


def _nice(top: float, whole: bool = False) -> float:
    """The axis maximum: `top` rounded up to 1, 2 or 5 times a power of ten (1 at least); for `whole` numbers
    (counts) to 2, 4 or 10 times one (2 at least), so that the middle line is a whole number too."""
    least, multiples = (2.0, (2, 4, 10)) if whole else (1.0, (1, 2, 5, 10))
    if top <= least:
        return least
    power = 10 ** math.floor(math.log10(top))
    return float(next(m * power for m in (*multiples, 20) if m * power >= top))


def _segments(points: Sequence[tuple[float, float]], step: float) -> list[list[tuple[float, float]]]:
    """The points split where a step is missing (a gap: no daemon sampled it)."""
    out: list[list[tuple[float, float]]] = []
    for at, value in points:
        if out and at - out[-1][-1][0] <= step * 1.5:
            out[-1].append((at, value))
        else:
            out.append([(at, value)])
    return out


def thin(points: Sequence[tuple[float, float]], step: float, most: int = MAX_POINTS
         ) -> tuple[list[tuple[float, float]], float]:
    """At most `most` points: runs of consecutive steps averaged into one (at the run's start), and the step
    the thinned points stand for (a gap is still a gap: a run never spans one)."""
    if len(points) <= most:
        return list(points), step
    width = -(-len(points) // most)
    span = step * width
    out: list[tuple[float, float]] = []
    run: list[tuple[float, float]] = []
    for at, value in points:
        if run and (at - run[0][0] >= span or at - run[-1][0] > step * 1.5):
            out.append((run[0][0], sum(v for _, v in run) / len(run)))
            run = []
        run.append((at, value))
    if run:
        out.append((run[0][0], sum(v for _, v in run) / len(run)))
    return out, span


def draw(spec: ChartSpec, lines: Mapping[str, history.Points], since: float, now: float,
         step: float = history.STEP) -> str:
    """One chart: an SVG of a polyline per subject, its scale and times, and a legend with the latest values."""
    shown: dict[str, list[tuple[float, float]]] = {}
    gap = step
    for name, raw in sorted(lines.items()):
        shown[name], gap = thin([(at, value / step if spec.rate else float(value)) for at, value in raw], step)
    top = _nice(max((v for pts in shown.values() for _, v in pts), default=0.0), whole=not spec.rate)
    plot_w, plot_h = WIDTH - LEFT, HEIGHT - BOTTOM - TOP

    def x(at: float) -> float:
        return LEFT + (at - since) / max(now - since, 1.0) * plot_w

    def y(value: float) -> float:
        return TOP + plot_h - value / top * plot_h

    fmt = fmt_rate if spec.rate else fmt_count
    grid = "".join(f'<line class="grid" x1="{LEFT}" x2="{WIDTH}" y1="{y(top * f):.1f}" y2="{y(top * f):.1f}"/>'
                   f'<text class="axis" x="{LEFT - 4}" y="{y(top * f) + 3:.1f}" text-anchor="end">'
                   f"{esc(fmt(top * f))}</text>" for f in (0, 0.5, 1))
    times = "".join(f'<text class="axis" x="{x(at):.1f}" y="{HEIGHT - 4}" text-anchor="{anchor}">{clock(at)}</text>'
                    for at, anchor in ((since, "start"), ((since + now) / 2, "middle"), (now, "end")))
    drawn, legend = [], []
    for index, (name, points) in enumerate(shown.items()):
        colour = f"c{index % COLOURS}"
        for segment in _segments(points, gap):
            coords = " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v in segment)
            if len(segment) == 1:
                at, v = segment[0]
                drawn.append(f'<circle class="dot {colour}" cx="{x(at):.1f}" cy="{y(v):.1f}" r="2"/>')
            else:
                drawn.append(f'<polyline class="line {colour}" points="{coords}"/>')
        latest = points[-1][1] if points else None
        legend.append(f'<span class="key"><i class="swatch {colour}"></i>{esc(name)} <b>{esc(fmt(latest))}</b>'
                      "</span>")
    body = (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(spec.title)}" '
            f'data-chart="{esc(spec.what)}">{grid}{times}{"".join(drawn)}</svg>'
            f'<div class="legend">{"".join(legend) or "<span class=muted>no data yet</span>"}</div>')
    return f'<figure class="chartbox" data-series="{len(shown)}"><figcaption>{esc(spec.title)}</figcaption>' \
           f"{body}</figure>"


def charts(found: Mapping[str, history.Points], error: str | None, span: str, now: float) -> str:
    """The charts card: every chart of CHARTS over `span`, with the span's links."""
    first = min((points[0][0] for points in found.values() if points), default=now - RANGES[span])
    since = max(now - RANGES[span], min(first, now - MIN_SPAN))
    grouped = by_chart(found)
    spans = " ".join(f'<a href="?range={name}#history" class="{"on" if name == span else ""}">{name}</a>'
                     for name in RANGES)
    if error is not None:
        body = f'<p class="empty bad">History unavailable<span class="sub">{esc(error)}</span></p>'
    else:
        body = '<div class="charts">' + "".join(draw(spec, grouped.get(spec.what, {}), since, now)
                                                for spec in CHARTS) + "</div>"
    note = f'<span class="spans">{spans}</span> points every {history.STEP} s, kept {history.KEPT // 3600} h'
    return section("History", body, note, anchor="history")
