"""The explorer's page and JSON: the search form, and each message found with what every route did with it.

The reading and the explaining are ops/explorer.py's. Keys, headers and
values are producers' bytes: they are shown as text (UTF-8, other bytes
escaped), escaped as HTML, and never decoded into markup; a JSON value is
shown indented.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from karafkad.ops.explorer import LIMIT, Exploration, Found, GroupFate, Query, RouteFate
from karafkad.text import plural
from karafkad.times import epoch_ms, utc_ms
from karafkad.web.html import empty, esc, pill, section

VALUE_SHOWN = 8192
"""Characters of a value shown on the page (the JSON has as many)."""
LIMITS = (10, 20, 50, 100)


def text_of(data: bytes | None, width: int = VALUE_SHOWN) -> str | None:
    """Bytes as text: UTF-8, other bytes as \\xNN; None stays None (a tombstone, no key)."""
    if data is None:
        return None
    text = data[: width * 4].decode("utf-8", "backslashreplace")
    return text if len(text) <= width else text[:width] + "…"


def _shown_value(data: bytes | None) -> str:
    text = text_of(data)
    if text is None:
        return "null (tombstone)"
    try:
        return json.dumps(json.loads(data or b""), indent=2, ensure_ascii=False)[:VALUE_SHOWN]
    except ValueError:
        return text


def parse_query(params: Mapping[str, Sequence[str]], topics: Sequence[str]) -> Query | str:
    """The search the page's fields ask for, or what is wrong with them."""
    def one(name: str) -> str:
        return (params.get(name) or [""])[0].strip()

    topic = one("topic") or (topics[0] if topics else "")
    partitions = tuple(int(p) for p in one("partition").replace(" ", "").split(",") if p.isdigit())
    if one("partition") and not partitions and one("partition") != "all":
        return f"partition {one('partition')!r} is not a number (or numbers separated by commas)"
    offset = one("offset")
    if offset and not offset.isdigit():
        return f"offset {offset!r} is not a number"
    time_ms = None
    if one("time"):
        try:
            time_ms = epoch_ms(one("time"))
        except ValueError:
            return f"time {one('time')!r} is not ISO 8601 (2026-11-30T08:00:00Z) or seconds since the epoch"
    limit = one("limit")
    return Query(topic, partitions, int(offset) if offset else None, time_ms, one("contains"),
                 min(int(limit), LIMIT) if limit.isdigit() and int(limit) > 0 else 20)


def _route_json(route: RouteFate) -> dict[str, Any]:
    ex = route.explanation
    return {"route": ex.route.name, "handler": ex.route.spec.handler, "outcome": ex.outcome,
            "steps": [{"step": s.label, "result": s.result} for s in ex.steps],
            "job": {"id": route.job_id, "status": route.job_status} if route.job_id else None,
            "dead_letter": ({"kind": ex.dead_letter.kind, "reason": ex.dead_letter.reason,
                             "topic": ex.dead_letter.topic, "at": route.dead_letter}
                            if ex.dead_letter is not None else None),
            "skipped": ex.skipped, "note": route.note or None}


def as_json(found: Exploration) -> dict[str, Any]:
    """The exploration as /explorer.json serves it (bytes as text, as the page shows them)."""
    q = found.query
    return {"query": {"topic": q.topic, "partitions": list(q.partitions), "offset": q.offset, "time_ms": q.time_ms,
                      "contains": q.contains, "limit": q.limit},
            "partitions": found.partitions, "problem": found.problem, "unread": found.unread,
            "messages": [{"topic": m.record.topic, "partition": m.record.partition, "offset": m.record.offset,
                          "timestamp": m.record.timestamp, "key": text_of(m.record.key),
                          "headers": [[k, text_of(v)] for k, v in m.record.headers],
                          "value": text_of(m.record.value),
                          "groups": [{"group": g.group, "handled": g.handled,
                                      "routes": [_route_json(r) for r in g.routes]} for g in m.groups]}
                         for m in found.messages]}


def _form(topics: Sequence[str], query: Query | None, params: Mapping[str, Sequence[str]]) -> str:
    def value(name: str) -> str:
        return esc((params.get(name) or [""])[0])

    chosen = query.topic if query is not None else ""
    options = "".join(f'<option value="{esc(t)}"{" selected" if t == chosen else ""}>{esc(t)}</option>'
                      for t in topics)
    limit = query.limit if query is not None else 20
    limits = "".join(f'<option{" selected" if n == limit else ""}>{n}</option>' for n in LIMITS)
    # S608 (SQL in a string) mistakes this form's "select" for SQL; every value in it is escaped.
    return (f'<form class="query" method="get" action="/explorer" id="explore">'  # noqa: S608
            f'<label>Topic<select name="topic">{options}</select></label>'
            f'<label>Partition<input name="partition" placeholder="all" value="{value("partition")}"></label>'
            f'<label>From offset<input name="offset" inputmode="numeric" placeholder="latest" '
            f'value="{value("offset")}"></label>'
            f'<label>or from time (UTC)<input name="time" placeholder="2026-11-30T08:00:00Z" '
            f'value="{value("time")}"></label>'
            f'<label>Containing<input class="wide" name="contains" placeholder="text in key, headers or value" '
            f'value="{value("contains")}"></label>'
            f'<label>Show<select name="limit">{limits}</select></label>'
            '<button class="btn primary" type="submit">Search</button></form>')


def _fate(route: RouteFate) -> str:
    ex = route.explanation
    tone = {"enqueue": "ok", "dead letter": "bad", "skip": "warn"}.get(ex.outcome, "")
    steps = "".join(f"<li><b>{esc(s.label)}</b>: <code>{esc(s.result)}</code></li>" for s in ex.steps)
    if route.job_id:
        status = route.job_status or "?"
        result = (f'job <span class="mono" data-job="{esc(route.job_id)}">{esc(route.job_id)}</span> · '
                  f'status in RQ: <b data-field="job-status">{esc(status)}</b>')
    elif ex.dead_letter is not None:
        where = (f' · in <span class="mono" data-field="dead-letter">{esc(route.dead_letter)}</span>'
                 if route.dead_letter else " · its dead letter was not found (not written yet, or older)")
        result = f"{esc(ex.dead_letter.kind)}: {esc(ex.dead_letter.reason)}{where}"
    elif ex.skipped:
        result = f"no job: {esc(', '.join(ex.skipped))}"
    else:
        result = esc(route.note or "no job")
    return (f'<div class="fate" data-route="{esc(ex.route.name)}" data-outcome="{esc(ex.outcome)}">'
            f"<h3>{esc(ex.route.name)}{pill(tone, ex.outcome)}</h3><ol>{steps}</ol>"
            f'<div class="result">{result}</div>'
            + (f'<span class="sub">{esc(route.note)}</span>' if route.note and route.job_id is None else "")
            + "</div>")


def _group(fate: GroupFate) -> str:
    handled = {True: pill("ok", "handled"), False: pill("warn", "not handled yet"), None: ""}[fate.handled]
    return (f'<div class="group-fate"><span class="sub">group <b>{esc(fate.group)}</b> {handled}</span>'
            f'<div class="fates">{"".join(_fate(r) for r in fate.routes)}</div></div>')


def _message(found: Found) -> str:
    record = found.record
    key = text_of(record.key)
    headers = "".join(f"<dt>{esc(text_of(k.encode('utf-8', 'surrogateescape')))}</dt>"
                      f"<dd>{esc(text_of(v) if v is not None else 'null')}</dd>" for k, v in record.headers)
    return (f'<article class="msg" data-partition="{record.partition}" data-offset="{record.offset}">'
            f'<div class="where"><b>{esc(record.topic)}[{record.partition}]@{record.offset}</b>'
            f'<span class="muted">{esc(utc_ms(record.timestamp))}</span></div>'
            f'<dl class="kv"><dt>key</dt><dd data-field="key">{esc(key) if key is not None else "null"}</dd>'
            f"{headers}</dl>"
            f'<pre class="value" data-field="value">{esc(_shown_value(record.value))}</pre>'
            f'{"".join(_group(g) for g in found.groups)}</article>')


def body(topics: Sequence[str], params: Mapping[str, Sequence[str]], query: Query | None,
         found: Exploration | None, problem: str | None) -> str:
    form = _form(topics, query, params)
    if not topics:
        return section("Explorer", empty("No route consumes a topic."))
    why = problem if problem is not None else found.problem if found is not None else None
    if why is not None:
        return section("Explorer", form + f'<p class="empty bad">{esc(why)}</p>')
    if found is None:
        return section("Explorer", form + empty("Choose a topic and where to read from."))
    unread = "".join(f'<p class="empty bad">{esc(u)}</p>' for u in found.unread)
    messages = "".join(_message(m) for m in found.messages) or empty("No message there.")
    where = "latest" if found.query.offset is None and found.query.time_ms is None else "from there"
    note = (f"{plural(len(found.messages), 'message')} ({where}) of {plural(len(found.partitions), 'partition')}; "
            "decisions by the current routes file, jobs and dead letters as the daemons made them")
    return section("Explorer", f'{form}{unread}<div class="message-list">{messages}</div>', esc(note))
