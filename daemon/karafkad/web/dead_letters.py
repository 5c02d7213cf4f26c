"""The dead letters page and JSON: browse by route, kind and time (the `dead-letters list` filters), see each
one's reason, origin and what a re-drive would do now, and re-drive a selection.

Reading is ops/dead_letter_reading.py's; re-driving is the same operation as
`karafkad dead-letters redrive --at` (actions.py). A dead letter's key and
value are producers' bytes, shown as text and escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from karafkad.ops.dead_letter_reading import PAGE_LIMIT, Page, place_of
from karafkad.ops.dead_letters import Selection
from karafkad.pipeline.outcomes import DEAD_LETTER_KINDS
from karafkad.routes.table import RouteTable
from karafkad.store.dead_letter_headers import StoredDeadLetter
from karafkad.text import clip, plural
from karafkad.times import epoch_ms, utc_ms
from karafkad.web.explorer import text_of
from karafkad.web.html import Viewer, empty, esc, section

REASON_SHOWN = 300
"""Characters of a reason shown in the table (the JSON has it whole)."""


def parse_selection(params: Mapping[str, Sequence[str]]) -> Selection | str:
    """The dead letters the page's fields choose, or what is wrong with them."""
    def one(name: str) -> str:
        return (params.get(name) or [""])[0].strip()

    times: dict[str, int | None] = {}
    for name in ("since", "until"):
        try:
            times[name] = epoch_ms(one(name)) if one(name) else None
        except ValueError:
            return f"{name} {one(name)!r} is not ISO 8601 (2026-11-30T08:00:00Z) or seconds since the epoch"
    try:
        return Selection(tuple(r for r in [one("route")] if r), tuple(k for k in [one("kind")] if k),
                         times["since"], times["until"])
    except ValueError as exc:
        return str(exc)


def as_json(page: Page) -> dict[str, Any]:
    return {"topics": page.topics, "missing": page.missing, "more": page.more, "unread": page.unread,
            "letters": [{"at": place_of(letter), "timestamp": letter.timestamp, "group": letter.group,
                         "routes": state, "kind": letter.kind, "reason": letter.reason, "origin": letter.origin,
                         "key": text_of(letter.original.key), "value": text_of(letter.original.value)}
                        for letter, state in page.letters]}


def _form(table: RouteTable, selection: Selection | None, params: Mapping[str, Sequence[str]]) -> str:
    def value(name: str) -> str:
        return esc((params.get(name) or [""])[0])

    routes = sorted({r.name for r in table.routes if r.spec.dead_letter})
    chosen_route = selection.routes[0] if selection is not None and selection.routes else ""
    chosen_kind = selection.kinds[0] if selection is not None and selection.kinds else ""
    route_options = '<option value="">every route</option>' + "".join(
        f'<option value="{esc(r)}"{" selected" if r == chosen_route else ""}>{esc(r)}</option>' for r in routes)
    kind_options = '<option value="">every kind</option>' + "".join(
        f'<option{" selected" if k == chosen_kind else ""}>{esc(k)}</option>' for k in DEAD_LETTER_KINDS)
    return (f'<form class="query" method="get" action="/dead-letters">'
            f'<label>Route<select name="route">{route_options}</select></label>'
            f'<label>Kind<select name="kind">{kind_options}</select></label>'
            f'<label>Since (UTC)<input name="since" placeholder="newest" value="{value("since")}"></label>'
            f'<label>Until (UTC)<input name="until" value="{value("until")}"></label>'
            '<button class="btn primary" type="submit">Show</button></form>')


def _row(letter: StoredDeadLetter, state: Mapping[str, str], viewer: Viewer) -> str:
    place = place_of(letter)
    tick = (f'<td><input type="checkbox" name="at" value="{esc(place)}" aria-label="choose {esc(letter.where)}">'
            "</td>" if viewer.can_act else "")
    states = "".join(f'<span class="chip">{esc(route)} <b>{esc(what)}</b></span>' for route, what in state.items())
    key = text_of(letter.original.key, 60)
    return (f'<tr class="letter" data-at="{esc(place)}">{tick}'
            f'<td class="when"><span class="mono">{esc(utc_ms(letter.timestamp))}</span>'
            f'<span class="sub mono">{esc(letter.where)}</span></td>'
            f'<td><span class="states">{states}</span><span class="sub">group {esc(letter.group)}</span></td>'
            f'<td><span class="pill bad">{esc(letter.kind)}</span></td>'
            f'<td class="message">{esc(clip(letter.reason, REASON_SHOWN))}'
            f'<span class="sub">from {esc(letter.origin)}</span></td>'
            f'<td class="mono">{esc(key) if key is not None else "null"}</td>'
            f'<td class="message">{esc(text_of(letter.original.value, 120) or "null")}</td></tr>')


def body(table: RouteTable, params: Mapping[str, Sequence[str]], selection: Selection | None, page: Page | None,
         problem: str | None, viewer: Viewer) -> str:
    form = _form(table, selection, params)
    if problem is not None:
        return section("Dead letters", form + f'<p class="empty bad">{esc(problem)}</p>')
    if page is None:
        return section("Dead letters", form + empty("No dead-letter topic in the routes file."))
    notes = [f'<p class="empty">topic {esc(t)} does not exist yet (no dead letter so far)</p>' for t in page.missing]
    if page.unread:
        notes.append(f'<p class="empty bad">re-drive marks unread (Redis): {esc(page.unread)}</p>')
    if not page.letters:
        return section("Dead letters", form + "".join(notes) + empty("No dead letter chosen.", "ok"))
    head = ("<tr>" + ('<th><input type="checkbox" data-select-all="at" aria-label="choose all"></th>'
                      if viewer.can_act else "")
            + "<th>Dead-lettered (UTC)</th><th>Route: re-drive now</th><th>Kind</th><th>Reason · origin</th>"
              "<th>Key</th><th>Value</th></tr>")
    rows = "".join(_row(letter, state, viewer) for letter, state in page.letters)
    listing = f'<div class="scroll"><table class="problems letters">{head}{rows}</table></div>'
    if viewer.can_act:
        chosen_route = selection.routes[0] if selection is not None and selection.routes else ""
        listing = (f'<form method="post" action="/actions/redrive" class="redrive">'
                   f'<input type="hidden" name="csrf" value="{esc(viewer.csrf)}">'
                   f'<input type="hidden" name="route" value="{esc(chosen_route)}">{listing}'
                   '<div class="selectall"><button class="btn primary" type="submit">Re-drive selected</button>'
                   '<span class="muted">each through the route(s) that rejected it, with the current routes file: '
                   "at most one job per message and route, however often it is asked</span></div></form>")
    shown = plural(len(page.letters), "dead letter")
    note = f"{shown}, newest first" + (f" (the first {PAGE_LIMIT}: narrow the choice)" if page.more else "")
    legend = ('<p class="empty">Re-drive now, route by route, with this routes file: <b>done</b> (re-driven before), '
              "<b>passes</b> (a re-drive makes its job), <b>fails</b> (rejected again), <b>no job</b> (filtered or "
              "vetoed), <b>gone</b> (no such route now).</p>")
    return section("Dead letters", form + "".join(notes) + listing + legend, esc(note))
