"""The console's HTML pieces, one copy each: escaping, numbers, badges, cards, tables and the action buttons.

Everything that reaches a page goes through `esc` here: route names and
messages come from operators, keys, headers and values from producers, and
any of them may hold markup. An action is a small POST form carrying the
viewer's CSRF token; no form is drawn for a viewer who may not act.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from karafkad.times import duration


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page, as far as the page cares: whether the console takes actions at all, and whether
    this viewer signed in (then its forms carry `csrf`)."""

    actions: bool = False
    """web.auth is configured: signing in allows actions."""
    who: str | None = None
    """The signed-in viewer's name, None when not signed in."""
    csrf: str = ""

    @property
    def can_act(self) -> bool:
        return self.actions and self.who is not None


READ_ONLY = Viewer()
"""A viewer of a console without web.auth."""


def esc(value: object) -> str:
    """Text (or an attribute value) as HTML: route names and messages come from operators and producers."""
    return html.escape(str(value), quote=True)


def fmt_count(value: float | None) -> str:
    return "—" if value is None else f"{round(value):,}"


def fmt_rate(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0/s"
    return f"{value:.1f}/s" if value < 10 else f"{value:,.0f}/s"


def fmt_duration(seconds: float | None) -> str:
    return "—" if seconds is None else duration(seconds)


def badge(tone: str, text: str, field_name: str) -> str:
    return f'<span class="badge {tone}" data-field="{field_name}">{esc(text)}</span>'


def pill(tone: str, text: str, title: str = "") -> str:
    tip = f' title="{esc(title)}"' if title else ""
    return f'<span class="pill {tone}"{tip}>{esc(text)}</span>'


def num(field_name: str, value: float | None, rate: float | None = None, *, with_rate: bool = False,
        detail: str = "") -> str:
    """A right-aligned count cell; with_rate adds the rate below it (None: not known yet), detail a breakdown."""
    rate_html = f'<span class="rate{" zero" if not rate else ""}">{fmt_rate(rate)}</span>' if with_rate else ""
    muted = " zero" if not value else ""
    return (f'<td class="num{muted}" data-field="{field_name}"><span class="count">{fmt_count(value)}</span>'
            f"{rate_html}{detail}</td>")


def total(breakdown: Mapping[str, float]) -> float:
    """The sum of a breakdown (skipped by reason, dead letters by kind)."""
    return sum(breakdown.values())


def breakdown(parts: Mapping[str, float]) -> str:
    items = [f'<span class="chip">{esc(k)} <b>{fmt_count(v)}</b></span>' for k, v in sorted(parts.items()) if v]
    return f'<span class="why">{"".join(items)}</span>' if items else ""


def section(title: str, body: str, note: str = "", cls: str = "", anchor: str = "") -> str:
    """A card; `note` is HTML (escape what goes into it)."""
    note_html = f'<span class="note">{note}</span>' if note else ""
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f'<section class="card {cls}"{ident}><h2>{esc(title)}{note_html}</h2>{body}</section>'


def empty(text: str, tone: str = "") -> str:
    return f'<p class="empty {tone}">{esc(text)}</p>'


def table(head: Sequence[str], rows: Sequence[str], cls: str = "") -> str:
    """A scrolling table: `head` are the column titles (plain text; a title starting with `#` is a number
    column), `rows` whole `<tr>` elements."""
    cells = "".join(f'<th class="num">{esc(h[1:])}</th>' if h.startswith("#") else f"<th>{esc(h)}</th>"
                    for h in head)
    return f'<div class="scroll"><table class="{cls}"><tr>{cells}</tr>{"".join(rows)}</table></div>'


def action(viewer: Viewer, path: str, label: str, fields: Mapping[str, object], *, tone: str = "",
           confirm: str = "") -> str:
    """A button that POSTs `fields` to `path` with the viewer's CSRF token; nothing for a viewer who may not
    act. `confirm`: a question the page asks first (console.js)."""
    if not viewer.can_act:
        return ""
    hidden = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items())
    ask = f' data-confirm="{esc(confirm)}"' if confirm else ""
    return (f'<form class="act" method="post" action="{esc(path)}"{ask}>{hidden}'
            f'<input type="hidden" name="csrf" value="{esc(viewer.csrf)}">'
            f'<button type="submit" class="btn {tone}">{esc(label)}</button></form>')

