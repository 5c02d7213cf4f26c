"""The status page at /: a server-rendered HTML page of a status board snapshot, refreshing itself.

Every value is escaped here; the page's style and its small script
(refresh, relative times) are static files beside this module.
"""

from __future__ import annotations

import functools
import html
import re
import time
from collections.abc import Mapping
from importlib import resources
from typing import Any

from karafkad.text import plural
from karafkad.times import clock, duration

REFRESH_SECONDS = 5
"""How often the page fetches itself again."""
PROBLEM_WINDOW = 300.0
"""Problems younger than this (seconds) turn the header's problem badge red."""
PROBLEMS_SHOWN = 20
"""Rows of the recent problems table."""


@functools.cache
def _asset(name: str) -> str:
    return resources.files("karafkad.web").joinpath(f"static/{name}").read_text("utf-8")


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


def _badge(tone: str, text: str, field_name: str) -> str:
    return f'<span class="badge {tone}" data-field="{field_name}">{esc(text)}</span>'


def _num(field_name: str, value: float | None, rate: float | None = None, *, with_rate: bool = False,
         detail: str = "") -> str:
    """A right-aligned count cell; with_rate adds the rate below it (None: not known yet), detail a breakdown."""
    rate_html = f'<span class="rate{" zero" if not rate else ""}">{fmt_rate(rate)}</span>' if with_rate else ""
    muted = " zero" if not value else ""
    return (f'<td class="num{muted}" data-field="{field_name}"><span class="count">{fmt_count(value)}</span>'
            f"{rate_html}{detail}</td>")


def _total(breakdown: Mapping[str, float]) -> float:
    """The sum of a breakdown (skipped by reason, dead letters by kind)."""
    return sum(breakdown.values())


def _breakdown(parts: Mapping[str, float]) -> str:
    items = [f'<span class="chip">{esc(k)} <b>{fmt_count(v)}</b></span>' for k, v in sorted(parts.items()) if v]
    return f'<span class="why">{"".join(items)}</span>' if items else ""


def _section(title: str, body: str, note: str = "", cls: str = "") -> str:
    note_html = f'<span class="note">{note}</span>' if note else ""
    return f'<section class="card {cls}"><h2>{esc(title)}{note_html}</h2>{body}</section>'


def _empty(text: str, tone: str = "") -> str:
    return f'<p class="empty {tone}">{esc(text)}</p>'


def _header(snap: Mapping[str, Any], now: float) -> str:
    state = str(snap.get("state", "unknown"))
    tone = {"running": "ok", "starting": "warn", "draining": "warn"}.get(state, "bad")
    badges = [_badge(tone, state, "state"),
              _badge("ok", "ready", "ready") if snap.get("ready") else _badge("bad", "not ready", "ready")]
    held = sum(1 for p in snap.get("partitions", []) if p.get("held"))
    if held:
        badges.append(_badge("bad", f"{plural(held, 'partition')} held: a batch cannot be read", "held"))
    keys = len(snap.get("held_keys", {}).get("keys", []))
    if keys:
        badges.append(_badge("bad", f"{plural(keys, 'key')} held by a failed job", "held_keys"))
    paused = sum(1 for p in snap.get("partitions", []) if p.get("paused"))
    badges.append(_badge("warn", f"backpressure · {paused} paused", "backpressure") if paused
                  else _badge("ok", "no backpressure", "backpressure"))
    if snap.get("queues", {}).get("error"):
        badges.append(_badge("bad", "Redis unreachable", "redis"))
    fresh = sum(1 for p in snap.get("recent", []) if now - p.get("time", 0) <= PROBLEM_WINDOW)
    badges.append(_badge("bad", f"{plural(fresh, 'problem')} in 5 min", "problems") if fresh
                  else _badge("ok", "no recent problems", "problems"))
    reloads = snap.get("reloads", {})
    facts = [f"up <b>{fmt_duration(snap.get('uptime'))}</b>",
             f"routes <code>{esc(snap.get('routes_file', '—'))}</code>",
             f"reloads {fmt_count(reloads.get('applied', 0))} applied, "
             f"{fmt_count(reloads.get('rejected', 0))} rejected",
             f"Redis <code>{esc(snap.get('redis', '—'))}</code>",
             f"Kafka <code>{esc(', '.join(snap.get('kafka', {}).get('bootstrap_servers', [])) or '—')}</code>"]
    return (f'<header class="head" id="head" data-swap><div class="title"><span class="logo" aria-hidden="true">'
            f'</span><h1>karafkad</h1><span class="ver">{esc(snap.get("version", ""))}</span>'
            f'<div class="badges">{"".join(badges)}</div></div>'
            f'<p class="facts">{"".join(f"<span class=fact>{fact}</span>" for fact in facts)}</p></header>')


def _tiles(snap: Mapping[str, Any]) -> str:
    routes, topics = snap.get("routes", []), snap.get("topics", [])
    known = snap.get("rate_window") is not None

    def routes_rate(what: str) -> str:
        return fmt_rate(sum((r.get("rates") or {}).get(what, 0.0) for r in routes) if known else None)

    lags = [p["lag"] for p in snap.get("partitions", []) if p.get("lag") is not None]
    depths = snap.get("queues", {}).get("depths")
    tiles: list[tuple[str, str, float | None, str, str]] = [
        ("consumed", "Consumed", sum(t["consumed"] for t in topics),
         fmt_rate(sum(t["rate"] or 0.0 for t in topics) if known else None), ""),
        ("enqueued", "Enqueued", sum(r["enqueued"] for r in routes), routes_rate("enqueued"), ""),
        ("skipped", "Skipped", sum(_total(r["skipped"]) for r in routes), routes_rate("skipped"), ""),
        ("dead_lettered", "Dead letters", sum(_total(r["dead_lettered"]) for r in routes),
         routes_rate("dead_lettered"), "warn"),
        ("lag", "Lag", sum(lags) if lags else None, plural(len(lags), "partition"), ""),
        ("queued", "Waiting in RQ", None if depths is None else sum(depths.values()),
         "Redis unreachable" if depths is None else plural(len(depths), "queue"), "bad" if depths is None else ""),
    ]
    out = []
    for key, label, value, sub, tone in tiles:
        alert = f" {tone}" if tone and (value or value is None) else ""
        out.append(f'<div class="tile{alert}" data-tile="{key}"><div class="label">{label}</div>'
                   f'<div class="value">{fmt_count(value)}</div><div class="sub">{esc(sub)}</div></div>')
    return f'<div class="tiles">{"".join(out)}</div>'


def _route_row(r: Mapping[str, Any]) -> str:
    rates = r.get("rates")

    def cell(what: str, value: float, detail: str = "") -> str:
        return _num(what, value, None if rates is None else rates.get(what, 0.0), with_rate=True, detail=detail)

    tags = []
    if r.get("filter"):
        tags.append(f'<span class="tag" title="{esc(r["filter"])}">filter</span>')
    if r.get("ordering", "none") != "none":
        failures = "a failure holds the key" if r.get("on_failure") == "hold" else "failures skipped"
        tags.append(f'<span class="tag" title="{esc(failures)}">ordered by {esc(r["ordering"])}</span>')
    if r.get("dead_letter"):
        tags.append(f'<span class="tag dlq">dead letters → {esc(r["dead_letter"])}</span>')
    elif r.get("on_error") == "skip":
        tags.append('<span class="tag">errors skipped</span>')
    return (
        f'<tr data-group="{esc(r["group"])}" data-route="{esc(r["name"])}">'
        f'<td class="name"><b>{esc(r["name"])}</b><span class="sub">group {esc(r["group"])}</span></td>'
        f'<td class="flow"><span class="mono">{esc(", ".join(r["topics"]))}</span> <span class="arrow">→</span> '
        f'<span class="mono">{esc(r["queue"])}</span><span class="tags">{"".join(tags)}</span></td>'
        + cell("consumed", r["consumed"]) + cell("enqueued", r["enqueued"])
        + cell("skipped", _total(r["skipped"]), _breakdown(r["skipped"]))
        + cell("dead_lettered", _total(r["dead_lettered"]), _breakdown(r["dead_lettered"]))
        + "</tr>")


def _routes(snap: Mapping[str, Any]) -> str:
    routes = snap.get("routes", [])
    if not routes:
        return _section("Routes", _empty("No routes."))
    head = ('<tr><th>Route</th><th>Topics → queue</th><th class="num">Consumed</th><th class="num">Enqueued</th>'
            '<th class="num">Skipped</th><th class="num">Dead letters</th></tr>')
    window = snap.get("rate_window")
    note = f"rates over the last {window:.0f} s" if window else "rates after the next refresh"
    rows = "".join(_route_row(r) for r in routes)
    return _section("Routes", f'<div class="scroll"><table class="routes">{head}{rows}</table></div>', note)


def _groups(snap: Mapping[str, Any]) -> str:
    groups = snap.get("groups", {})
    if not groups:
        return _section("Consumer groups", _empty("No consumer group has started yet."))
    by_thread: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for p in snap.get("partitions", []):
        by_thread.setdefault((p["group"], p["thread"]), []).append(p)
    rows = []
    for group, info in groups.items():
        threads = info.get("threads", [])
        pressure = snap.get("backpressure", {}).get(group, {})
        events = ", ".join(f"{esc(k)} {fmt_count(v)}" for k, v in sorted(pressure.items()))
        count = sum(len(t.get("partitions", [])) for t in threads)
        own = info.get("redis")
        where = f" · Redis {esc(own)}" if own and own != snap.get("redis") else ""  # a group's own Redis
        rows.append(f'<tr class="group"><th colspan="4">{esc(group)}<span class="sub">{plural(len(threads), "thread")}'
                    f' · {plural(count, "partition")}{where}'
                    f'{" · backpressure events: " + events if events else ""}</span></th></tr>')
        for thread in threads:
            parts = by_thread.get((group, thread["name"]), [])
            if not thread.get("alive"):
                state = '<span class="pill bad">stopped</span>'
            elif not thread.get("joined"):
                state = '<span class="pill warn">joining</span>'
            elif thread.get("waiting"):
                # A failed write it keeps retrying: say which (Redis down, replicas behind, dead letters).
                state = f'<span class="pill warn">paused</span><span class="sub">{esc(thread["waiting"])}</span>'
            elif parts and all(p.get("paused") for p in parts):
                state = '<span class="pill warn">paused</span>'
            else:
                state = '<span class="pill ok">consuming</span>'
            span = max(len(parts), 1)
            first = f'<td rowspan="{span}" class="thread"><span class="mono">{esc(thread["name"])}</span>{state}</td>'
            if not parts:
                rows.append(f'<tr>{first}<td colspan="3" class="muted">no partitions assigned</td></tr>')
            for i, p in enumerate(parts):
                lag = p.get("lag")
                held = p.get("held")
                if held:
                    status = (f'<span class="pill bad">held</span><span class="sub">batch at offset {held["offset"]} '
                              f'cannot be read: {esc(held["error"])}</span>')
                elif p.get("paused"):
                    status = '<span class="pill warn">paused</span>'
                else:
                    status = '<span class="pill ok">flowing</span>'
                rows.append(f'<tr data-group="{esc(group)}" data-topic="{esc(p["topic"])}" '
                            f'data-partition="{p["partition"]}">{first if i == 0 else ""}'
                            f'<td class="mono">{esc(p["topic"])}[{p["partition"]}]</td>'
                            f'<td class="num{" zero" if not lag else ""}" data-field="lag">'
                            f'<span class="count">{fmt_count(lag)}</span></td><td>{status}</td></tr>')
    head = '<tr><th>Thread</th><th>Partition</th><th class="num">Lag</th><th>State</th></tr>'
    return _section("Consumer groups", f'<div class="scroll"><table class="parts">{head}{"".join(rows)}</table></div>',
                    "lag per partition")


def _held_keys(snap: Mapping[str, Any], now: float) -> str:
    """The keys of ordered routes held by a job that failed for good (not the partitions held at a batch the
    client cannot read: those are the consumer groups')."""
    if not any(r.get("ordering", "none") != "none" for r in snap.get("routes", [])):
        return ""
    held = snap.get("held_keys", {})
    scanned = held.get("scanned_at")
    notes = [f"looked {fmt_duration(max(now - scanned, 0))} ago" if scanned else "not looked yet"]
    if held.get("error"):
        notes.append(f'<span class="bad">{esc(held["error"])}</span>')
    for queue, count in sorted(held.get("unread", {}).items()):
        notes.append(f"queue {esc(queue)}: {plural(count, 'older failed job')} not read")
    note = " · ".join(notes)
    keys = held.get("keys", [])
    if not keys:
        return _section("Held keys", _empty("No key is held." if scanned else "Not looked yet.",
                                            "ok" if scanned else ""), note)
    rows = []
    for key in keys:
        waiting = f'{fmt_count(key["waiting"])}{"" if key.get("counted_all", True) else "+"}'
        rows.append(f'<tr data-group="{esc(key["group"])}" data-route="{esc(key["route"])}" '
                    f'data-job="{esc(key["job"])}"><td><b>{esc(key["route"])}</b>'
                    f'<span class="sub">group {esc(key["group"])}</span></td>'
                    f'<td><span class="mono">{esc(key["key"])}</span><span class="sub">{esc(key["topic"])}'
                    f'[{esc(key["partition"])}]</span></td>'
                    f'<td><span class="mono">{esc(key["job"])}</span><span class="sub">failed '
                    f'{esc(key["failed_at"] or "—")}</span></td>'
                    f'<td class="message">{esc(key["error"] or "—")}</td>'
                    f'<td class="num" data-field="waiting"><span class="count">{waiting}</span></td></tr>')
    head = '<tr><th>Route</th><th>Key</th><th>Failed job</th><th>Error</th><th class="num">Waiting</th></tr>'
    body = (f'<div class="scroll"><table class="held">{head}{"".join(rows)}</table></div>'
            '<p class="hint">A held key\'s later jobs wait until <code>karafkad held retry JOB</code> (the failed job '
            'runs again, then the rest in order) or <code>karafkad held skip JOB</code> (the rest run without it).</p>')
    return _section("Held keys", body, note, "alert")


def _queues(snap: Mapping[str, Any]) -> str:
    queues = snap.get("queues", {})
    depths = queues.get("depths")
    if depths is None:
        return _section("RQ queues", f'<p class="empty bad"><b>Redis unreachable</b>'
                                     f'<span class="sub">{esc(queues.get("error") or "not read yet")}</span></p>')
    if not depths:
        return _section("RQ queues", _empty("No queues."))
    feeding: dict[str, list[str]] = {}
    for r in snap.get("routes", []):
        feeding.setdefault(r["queue"], []).append(r["name"])
    rows = "".join(f'<tr data-queue="{esc(q)}"><td class="mono">{esc(q)}</td>{_num("depth", n)}'
                   f'<td class="muted">{esc(", ".join(feeding.get(q, [])))}</td></tr>'
                   for q, n in sorted(depths.items()))
    head = '<tr><th>Queue</th><th class="num">Waiting</th><th>Fed by</th></tr>'
    return _section("RQ queues", f'<div class="scroll"><table>{head}{rows}</table></div>', "jobs not yet taken")


def _topics(snap: Mapping[str, Any]) -> str:
    topics = snap.get("topics", [])
    if not topics:
        return _section("Topics", _empty("Nothing consumed yet."))
    rows = "".join(f'<tr data-group="{esc(t["group"])}" data-topic="{esc(t["topic"])}"><td><span class="mono">'
                   f'{esc(t["topic"])}</span><span class="sub">group {esc(t["group"])}</span></td>'
                   + _num("consumed", t["consumed"], t["rate"], with_rate=True)
                   + _num("redelivered", t["redelivered"]) + "</tr>"
                   for t in topics)
    head = '<tr><th>Topic</th><th class="num">Consumed</th><th class="num">Redelivered</th></tr>'
    return _section("Topics", f'<div class="scroll"><table>{head}{rows}</table></div>')


def _problems(snap: Mapping[str, Any], now: float) -> str:
    recent = snap.get("recent", [])[:PROBLEMS_SHOWN]
    if not recent:
        return _section("Recent problems", _empty("Nothing went wrong recently.", "ok"))
    rows = []
    for item in recent:
        where = []
        if item.get("route"):
            where.append(f"route {esc(item['route'])}")
        if item.get("topic") is not None:
            place = f"{esc(item['topic'])}[{esc(item.get('partition', '?'))}]"
            where.append(place + (f"@{esc(item['offset'])}" if item.get("offset") is not None else ""))
        if item.get("group") and not item.get("route"):
            where.append(f"group {esc(item['group'])}")
        kind = str(item.get("kind", "?"))
        at = float(item.get("time", 0))
        rows.append(f'<tr class="problem"><td class="when"><span class="mono">{clock(at)}</span>'
                    f'<span class="sub">{fmt_duration(max(now - at, 0))} ago</span></td>'
                    f'<td><span class="pill {"warn" if kind == "skipped" else "bad"}">{esc(kind)}</span></td>'
                    f'<td class="message">{esc(item.get("message", ""))}'
                    f'<span class="sub">{" · ".join(where)}</span></td></tr>')
    head = '<tr><th>Time (UTC)</th><th>Kind</th><th>What happened</th></tr>'
    total = len(snap.get("recent", []))
    note = f"latest {len(recent)} of {total}" if total > len(recent) else ""
    return _section("Recent problems", f'<div class="scroll"><table class="problems">{head}{"".join(rows)}</table>'
                                       "</div>", note)


def _operations(snap: Mapping[str, Any], now: float) -> str:
    """Replays, re-drives and releases of held keys operators ran (karafkad replay, karafkad dead-letters redrive,
    karafkad held retry|skip)."""
    done = snap.get("operations", [])[:PROBLEMS_SHOWN]
    if not done:
        return ""
    rows = []
    for item in done:
        at = float(item.get("time", 0))
        rows.append(f'<tr class="operation"><td class="when"><span class="mono">{clock(at)}</span>'
                    f'<span class="sub">{fmt_duration(max(now - at, 0))} ago</span></td>'
                    f'<td><span class="pill ok">{esc(item.get("kind", "?"))}</span></td>'
                    f'<td class="message">{esc(item.get("message", ""))}</td></tr>')
    head = '<tr><th>Time (UTC)</th><th>Kind</th><th>What was done</th></tr>'
    return _section("Recent operations", f'<div class="scroll"><table class="problems">{head}{"".join(rows)}'
                                         "</table></div>", "replays, re-drives, held keys released")


def render(snap: Mapping[str, Any]) -> str:
    """The whole page for one snapshot; every value from the snapshot is escaped."""
    now = float(snap.get("generated_at") or time.time())
    body = (
        f'<div class="top">{_header(snap, now)}<div id="live" class="live" role="status"><span class="dot"></span>'
        f'<span class="text">live</span></div></div>'
        f'<main id="board" data-swap>{_tiles(snap)}{_routes(snap)}{_held_keys(snap, now)}'
        f'<div class="cols">{_groups(snap)}<div class="stack">{_queues(snap)}{_topics(snap)}</div></div>'
        f'{_problems(snap, now)}{_operations(snap, now)}</main>'
        '<footer>karafkad status · <a href="/metrics">/metrics</a> · <a href="/status.json">/status.json</a> · '
        f'refreshes every {REFRESH_SECONDS} s</footer>'
    )
    title = f"karafkad · {snap.get('state', 'unknown')}{'' if snap.get('ready') else ' · not ready'}"
    parts = {"title": esc(title), "refresh": str(REFRESH_SECONDS), "generated": f"{now:.3f}",
             "css": _asset("status.css"), "js": _asset("status.js"), "body": body}
    # One pass over the template only: nothing substituted is scanned again for {{...}}.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m[1]], _asset("status.html"))
