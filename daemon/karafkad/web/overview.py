"""The console's overview: every daemon of the deployment in one view (deployment.py sums them), with the
operators' pauses and their buttons.

Each card reads the live daemons' snapshots: the tiles and routes are sums
over the daemons, each partition is shown with the daemon that holds it, and
a daemon that stopped publishing is listed as gone. Buttons (pause, resume)
are drawn only for a viewer who may act (html.action).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from karafkad.text import plural
from karafkad.times import clock
from karafkad.web import deployment, held
from karafkad.web.deployment import DeploymentView, Member
from karafkad.web.html import (
    Viewer,
    action,
    breakdown,
    empty,
    esc,
    fmt_count,
    fmt_duration,
    fmt_rate,
    num,
    pill,
    section,
    table,
    total,
)

PROBLEM_WINDOW = 300.0
"""Problems younger than this (seconds) count as recent (the header's badge, the instances' column)."""
PROBLEMS_SHOWN = 20
"""Rows of the recent problems table."""

Pauses = Sequence[Mapping[str, Any]]


def _paused_route(pauses: Pauses, group: str, route: str) -> Mapping[str, Any] | None:
    return next((p for p in pauses if p["group"] == group and p.get("route") == route), None)


def _paused_partition(pauses: Pauses, group: str, topic: str, number: int) -> Mapping[str, Any] | None:
    return next((p for p in pauses if p["group"] == group and p.get("topic") == topic
                 and p.get("partition") == number), None)


def tiles(view: DeploymentView) -> str:
    live = view.live
    routes, topics = deployment.routes(live), deployment.topics(live)
    known = any(r.get("rates") is not None for r in routes)

    def routes_rate(what: str) -> str:
        return fmt_rate(sum((r.get("rates") or {}).get(what, 0.0) for r in routes) if known else None)

    lags = [p["lag"] for p in deployment.partitions(live) if p.get("lag") is not None]
    depths, _ = deployment.queues(live)
    items: list[tuple[str, str, float | None, str, str]] = [
        ("consumed", "Consumed", sum(t["consumed"] for t in topics),
         fmt_rate(sum(t["rate"] or 0.0 for t in topics) if known else None), ""),
        ("enqueued", "Enqueued", sum(r["enqueued"] for r in routes), routes_rate("enqueued"), ""),
        ("skipped", "Skipped", sum(total(r["skipped"]) for r in routes), routes_rate("skipped"), ""),
        ("dead_lettered", "Dead letters", sum(total(r["dead_lettered"]) for r in routes),
         routes_rate("dead_lettered"), "warn"),
        ("lag", "Lag", sum(lags) if lags else None, plural(len(lags), "partition"), ""),
        ("queued", "Waiting in RQ", None if depths is None else sum(depths.values()),
         "Redis unreachable" if depths is None else plural(len(depths), "queue"), "bad" if depths is None else ""),
    ]
    out = []
    for key, label, value, sub, tone in items:
        alert = f" {tone}" if tone and (value or value is None) else ""
        out.append(f'<div class="tile{alert}" data-tile="{key}"><div class="label">{label}</div>'
                   f'<div class="value">{fmt_count(value)}</div><div class="sub">{esc(sub)}</div></div>')
    return f'<div class="tiles">{"".join(out)}</div>'


def _pause_button(viewer: Viewer, paused: Mapping[str, Any] | None, fields: Mapping[str, object]) -> str:
    if paused is not None:
        return action(viewer, "/actions/resume", "Resume", fields, tone="go")
    return action(viewer, "/actions/pause", "Pause", fields)


def _route_row(r: Mapping[str, Any], pauses: Pauses, viewer: Viewer) -> str:
    rates = r.get("rates")

    def cell(what: str, value: float, detail: str = "") -> str:
        return num(what, value, None if rates is None else rates.get(what, 0.0), with_rate=True, detail=detail)

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
    paused = _paused_route(pauses, r["group"], r["name"])
    state = ""
    if paused is not None:
        state = pill("warn", "paused", f"by {paused['who']} at {clock(float(paused['at']))} UTC")
    fields = {"group": r["group"], "route": r["name"]}
    return (
        f'<tr data-group="{esc(r["group"])}" data-route="{esc(r["name"])}"'
        f'{" data-paused" if paused is not None else ""}>'
        f'<td class="name"><b>{esc(r["name"])}</b>{state}<span class="sub">group {esc(r["group"])} · '
        f'{plural(len(r.get("instances", [])) or 1, "daemon")}</span></td>'
        f'<td class="flow"><span class="mono">{esc(", ".join(r["topics"]))}</span> <span class="arrow">→</span> '
        f'<span class="mono">{esc(r["queue"])}</span><span class="tags">{"".join(tags)}</span></td>'
        + cell("consumed", r["consumed"]) + cell("enqueued", r["enqueued"])
        + cell("skipped", total(r["skipped"]), breakdown(r["skipped"]))
        + cell("dead_lettered", total(r["dead_lettered"]), breakdown(r["dead_lettered"]))
        + f'<td class="acts">{_pause_button(viewer, paused, fields)}</td></tr>')


def routes(view: DeploymentView, viewer: Viewer) -> str:
    found = deployment.routes(view.live)
    if not found:
        return section("Routes", empty("No routes."))
    pauses = view.own.get("pauses", [])
    rows = [_route_row(r, pauses, viewer) for r in found]
    window = view.own.get("rate_window")
    note = f"rates over the last {window:.0f} s, summed over the daemons" if window else \
        "rates after the next refresh"
    head = ["Route", "Topics → queue", "#Consumed", "#Enqueued", "#Skipped", "#Dead letters", ""]
    return section("Routes", table(head, rows, "routes"), note)


def _partition_state(p: Mapping[str, Any], paused: Mapping[str, Any] | None) -> str:
    held = p.get("held")
    if held:
        return (f'{pill("bad", "held")}<span class="sub">batch at offset {esc(held["offset"])} cannot be read: '
                f'{esc(held["error"])}</span>')
    if p.get("paused") == "operator" or paused is not None:
        by = f"by {paused['who']}" if paused is not None else "by an operator"
        return f'{pill("warn", "paused")}<span class="sub">{esc(by)}</span>'
    if p.get("paused"):
        # A failed write its thread keeps retrying says why (Redis down, replicas behind, dead letters).
        return f'{pill("warn", "paused")}<span class="sub">{esc(p.get("waiting") or "backpressure")}</span>'
    return pill("ok", "flowing")


def _group_notes(view: DeploymentView, group: str) -> str:
    """A group's own Redis (when it is not the top-level one) and its backpressure events, over its daemons."""
    notes = ""
    own = next((s["groups"][group].get("redis") for _, s in view.live if group in s.get("groups", {})), None)
    if own and own != view.own.get("redis"):
        notes += f" · Redis {esc(own)}"
    pressure: dict[str, float] = {}
    for _, snap in view.live:
        for reason, count in snap.get("backpressure", {}).get(group, {}).items():
            pressure[reason] = pressure.get(reason, 0.0) + count
    if pressure:
        notes += " · backpressure events: " + ", ".join(f"{esc(k)} {fmt_count(v)}" for k, v in sorted(pressure.items()))
    return notes


def groups(view: DeploymentView, viewer: Viewer) -> str:
    found = deployment.partitions(view.live)
    members = dict(view.live)
    names = sorted({g for _, snap in view.live for g in snap.get("groups", {})})
    if not names:
        return section("Consumer groups", empty("No consumer group has started yet."))
    pauses = view.own.get("pauses", [])
    rows = []
    for group in names:
        threads = [(instance, t) for instance, snap in members.items()
                   for t in snap.get("groups", {}).get(group, {}).get("threads", [])]
        parts = [p for p in found if p["group"] == group]
        daemons = sorted({instance for instance, _ in threads})
        rows.append(f'<tr class="group"><th colspan="6">{esc(group)}<span class="sub">'
                    f'{plural(len(daemons), "daemon")} · {plural(len(threads), "member")} · '
                    f'{plural(len(parts), "partition")}{_group_notes(view, group)}</span></th></tr>')
        idle = [(i, t) for i, t in threads if not t.get("partitions")]
        for p in parts:
            paused = _paused_partition(pauses, group, p["topic"], p["partition"])
            lag = p.get("lag")
            fields = {"group": group, "topic": p["topic"], "partition": p["partition"]}
            rows.append(f'<tr data-group="{esc(group)}" data-topic="{esc(p["topic"])}" '
                        f'data-partition="{p["partition"]}" data-instance="{esc(p["instance"])}"'
                        f'{" data-paused" if p.get("paused") else ""}>'
                        f'<td class="mono">{esc(p["topic"])}[{p["partition"]}]</td>'
                        f'<td><span class="mono">{esc(p["instance"])}</span><span class="sub">{esc(p["thread"])}'
                        f'</span></td><td class="num{" zero" if not lag else ""}" data-field="lag">'
                        f'<span class="count">{fmt_count(lag)}</span></td>'
                        f'<td>{_partition_state(p, paused)}</td>'
                        f'<td class="acts">{_pause_button(viewer, paused, fields)}</td></tr>')
        for instance, thread in idle:
            state = "stopped" if not thread.get("alive", True) else \
                "joining" if not thread.get("joined") else "no partitions assigned"
            rows.append(f'<tr class="idle"><td class="muted">—</td><td><span class="mono">{esc(instance)}</span>'
                        f'<span class="sub">{esc(thread["name"])}</span></td><td></td>'
                        f'<td class="muted">{esc(state)}</td><td></td></tr>')
    head = ["Partition", "Daemon · member", "#Lag", "State", ""]
    return section("Consumer groups", table(head, rows, "parts"), "lag per partition, as its daemon last saw it")


def _member_row(member: Member, now: float) -> str:
    snap = member.snapshot
    if snap is None:
        return (f'<tr class="gone" data-instance="{esc(member.name)}" data-state="gone">'
                f'<td><b class="mono">{esc(member.name)}</b></td><td>{pill("bad", "gone")}<span class="sub">'
                f'last seen {fmt_duration(max(now - member.seen_at, 0))} ago</span></td>'
                '<td colspan="5" class="muted">stopped publishing its status (killed, or its host is gone)</td></tr>')
    state = str(snap.get("state", "?"))
    tone = {"running": "ok", "starting": "warn", "draining": "warn"}.get(state, "bad")
    info = snap.get("instance", {})
    groups_ = snap.get("groups", {})
    parts = len(snap.get("partitions", []))
    rates = [r.get("rates") or {} for r in snap.get("routes", [])]
    recent = sum(1 for p in snap.get("recent", []) if now - float(p.get("time", 0)) <= PROBLEM_WINDOW)
    ready = "" if snap.get("ready") else pill("warn", "not ready")
    own = ' <span class="tag">this daemon</span>' if member.own else ""
    return (f'<tr data-instance="{esc(member.name)}" data-state="{esc(state)}">'
            f'<td><b class="mono">{esc(member.name)}</b>{own}<span class="sub">{esc(info.get("host", "?"))} · pid '
            f'{esc(info.get("pid", "?"))} · {esc(snap.get("version", ""))}</span></td>'
            f'<td>{pill(tone, state)}{ready}<span class="sub">up {fmt_duration(snap.get("uptime"))}</span></td>'
            f'<td class="mono">{esc(", ".join(groups_)) or "—"}</td>'
            f'<td class="num">{fmt_count(parts)}</td>'
            f'<td class="num">{fmt_rate(sum(r.get("consumed", 0.0) for r in rates) if rates else None)}</td>'
            f'<td class="num{" zero" if not recent else ""}">{fmt_count(recent)}</td>'
            f'<td class="muted">{fmt_duration(max(now - member.seen_at, 0))} ago</td></tr>')


def instances(view: DeploymentView, now: float) -> str:
    rows = [_member_row(m, now) for m in view.members]
    note = (f'<span class="bad">other daemons unknown: Redis: {esc(view.error)}</span>' if view.error else
            f"{plural(len(view.live), 'daemon')} publishing"
            + (f", {len(view.members) - len(view.live)} gone" if len(view.members) > len(view.live) else ""))
    head = ["Daemon", "State", "Groups", "#Partitions", "#Consumed/s", "#Problems 5 min", "Published"]
    return section("Daemons", table(head, rows, "instances"), note, anchor="daemons")


def pauses(view: DeploymentView, viewer: Viewer, now: float) -> str:
    found = view.own.get("pauses", [])
    if not found:
        return ""
    rows = []
    for p in found:
        what = (f"route <b>{esc(p['route'])}</b>" if p.get("route") is not None else
                f"partition <span class=mono>{esc(p['topic'])}[{esc(p['partition'])}]</span>")
        fields = ({"group": p["group"], "route": p["route"]} if p.get("route") is not None else
                  {"group": p["group"], "topic": p["topic"], "partition": p["partition"]})
        rows.append(f'<tr class="pause"><td>{what}<span class="sub">group {esc(p["group"])}</span></td>'
                    f'<td>{esc(p["who"])}</td><td class="when"><span class="mono">{clock(float(p["at"]))}</span>'
                    f'<span class="sub">{fmt_duration(max(now - float(p["at"]), 0))} ago</span></td>'
                    f'<td class="acts">{action(viewer, "/actions/resume", "Resume", fields, tone="go")}</td></tr>')
    return section("Paused by operators", table(["Paused", "By", "Since (UTC)", ""], rows, "pauses"),
                   "every daemon keeps these paused, across restarts, until resumed", "attention")


def queues(view: DeploymentView) -> str:
    depths, error = deployment.queues(view.live)
    if depths is None:
        return section("RQ queues", f'<p class="empty bad"><b>Redis unreachable</b>'
                                    f'<span class="sub">{esc(error or "not read yet")}</span></p>')
    if not depths:
        return section("RQ queues", empty("No queues."))
    feeding: dict[str, list[str]] = {}
    for r in deployment.routes(view.live):
        feeding.setdefault(r["queue"], []).append(r["name"])
    rows = [f'<tr data-queue="{esc(q)}"><td class="mono">{esc(q)}</td>{num("depth", n)}'
            f'<td class="muted">{esc(", ".join(feeding.get(q, [])))}</td></tr>' for q, n in sorted(depths.items())]
    return section("RQ queues", table(["Queue", "#Waiting", "Fed by"], rows), "jobs not yet taken")


def topics(view: DeploymentView) -> str:
    found = deployment.topics(view.live)
    if not found:
        return section("Topics", empty("Nothing consumed yet."))
    rows = [f'<tr data-group="{esc(t["group"])}" data-topic="{esc(t["topic"])}"><td><span class="mono">'
            f'{esc(t["topic"])}</span><span class="sub">group {esc(t["group"])}</span></td>'
            + num("consumed", t["consumed"], t["rate"], with_rate=True) + num("redelivered", t["redelivered"])
            + "</tr>" for t in found]
    return section("Topics", table(["Topic", "#Consumed", "#Redelivered"], rows))


def problems(view: DeploymentView, now: float) -> str:
    found = deployment.problems(view.live)
    recent = found[:PROBLEMS_SHOWN]
    if not recent:
        return section("Recent problems", empty("Nothing went wrong recently.", "ok"))
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
        where.append(f"daemon {esc(item['instance'])}")
        kind = str(item.get("kind", "?"))
        at = float(item.get("time", 0))
        rows.append(f'<tr class="problem"><td class="when"><span class="mono">{clock(at)}</span>'
                    f'<span class="sub">{fmt_duration(max(now - at, 0))} ago</span></td>'
                    f'<td>{pill("warn" if kind == "skipped" else "bad", kind)}</td>'
                    f'<td class="message">{esc(item.get("message", ""))}'
                    f'<span class="sub">{" · ".join(where)}</span></td></tr>')
    note = f"latest {len(recent)} of {len(found)}" if len(found) > len(recent) else ""
    return section("Recent problems", table(["Time (UTC)", "Kind", "What happened"], rows, "problems"), note)


def operations(view: DeploymentView, now: float) -> str:
    """What operators did (pauses, resumes, re-drives, replays, held keys released), with who did it."""
    done = view.operations[:PROBLEMS_SHOWN]
    if not done:
        return ""
    rows = []
    for item in done:
        at = float(item.get("time", 0))
        said = str(item.get("message", ""))
        who = (f'<span class="sub">by {esc(item["who"])}</span>'
               if item.get("who") and str(item["who"]) not in said else "")
        rows.append(f'<tr class="operation"><td class="when"><span class="mono">{clock(at)}</span>'
                    f'<span class="sub">{fmt_duration(max(now - at, 0))} ago</span></td>'
                    f'<td>{pill("ok", str(item.get("kind", "?")))}</td>'
                    f'<td class="message">{esc(item.get("message", ""))}{who}</td></tr>')
    return section("Recent operations", table(["Time (UTC)", "Kind", "What was done"], rows, "problems"),
                   "every action, from a console or a command, with who did it")


def body(view: DeploymentView, viewer: Viewer, charts: str, now: float | None = None) -> str:
    """The overview's cards, in reading order."""
    at = time.time() if now is None else now
    return (f'{tiles(view)}{pauses(view, viewer, at)}{charts}{routes(view, viewer)}{held.card(view, viewer, at)}'
            f'{instances(view, at)}'
            f'<div class="cols">{groups(view, viewer)}<div class="stack">{queues(view)}{topics(view)}</div></div>'
            f'{problems(view, at)}{operations(view, at)}')
