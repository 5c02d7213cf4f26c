"""The console's pages around their cards: the header (this daemon and the deployment at a glance), the
navigation, what an action just did, and the static files that style the page and refresh it.

Every value is escaped (html.py). The page loads its style and script from
/static/ (files beside this module, shipped in the package): nothing comes
from elsewhere, and the Content-Security-Policy (app.py) forbids inline
script, so a value that holds markup can never run.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from karafkad import __version__
from karafkad.text import plural
from karafkad.web import deployment, overview
from karafkad.web.deployment import DeploymentView, single
from karafkad.web.html import READ_ONLY, Viewer, badge, esc, fmt_count, fmt_duration

REFRESH_SECONDS = 5
"""How often the overview fetches itself again."""
ASSETS = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
"""The static files the pages load (/static/NAME), with their content types."""
NAV = (("/", "Overview"), ("/explorer", "Explorer"), ("/dead-letters", "Dead letters"), ("/held", "Held keys"))


@functools.cache
def asset(name: str) -> str:
    return resources.files("karafkad.web").joinpath(f"static/{name}").read_text("utf-8")


def _header(view: DeploymentView, now: float) -> str:
    snap = view.own
    state = str(snap.get("state", "unknown"))
    tone = {"running": "ok", "starting": "warn", "draining": "warn"}.get(state, "bad")
    badges = [badge(tone, state, "state"),
              badge("ok", "ready", "ready") if snap.get("ready") else badge("bad", "not ready", "ready")]
    live, gone = len(view.live), len(view.members) - len(view.live)
    badges.append(badge("ok", plural(live, "daemon"), "daemons"))
    if gone:
        badges.append(badge("bad", f"{gone} gone", "gone"))
    if view.error:
        badges.append(badge("bad", "deployment unknown: Redis unreachable", "deployment"))
    parts = [p for _, s in view.live for p in s.get("partitions", [])]
    held = sum(1 for p in parts if p.get("held"))
    if held:
        badges.append(badge("bad", f"{plural(held, 'partition')} held: a batch cannot be read", "held"))
    keys = len(deployment.held_keys(view.live)["keys"])
    if keys:
        badges.append(badge("bad", f"{plural(keys, 'key')} held by a failed job", "held_keys"))
    pauses = snap.get("pauses", [])
    if pauses:
        badges.append(badge("warn", f"{plural(len(pauses), 'pause')} by operators", "operator-pauses"))
    pressed = sum(1 for p in parts if p.get("paused") == "backpressure")
    badges.append(badge("warn", f"backpressure · {pressed} paused", "backpressure") if pressed
                  else badge("ok", "no backpressure", "backpressure"))
    if snap.get("queues", {}).get("error"):
        badges.append(badge("bad", "Redis unreachable", "redis"))
    registry = snap.get("schema_registry") or {}
    if registry.get("outage"):
        badges.append(badge("bad", "Schema Registry unreachable: consuming paused", "schema_registry"))
    fresh = sum(1 for _, s in view.live for p in s.get("recent", [])
                if now - float(p.get("time", 0)) <= overview.PROBLEM_WINDOW)
    badges.append(badge("bad", f"{plural(fresh, 'problem')} in 5 min", "problems") if fresh
                  else badge("ok", "no recent problems", "problems"))
    reloads = snap.get("reloads", {})
    me = snap.get("instance", {})
    facts = [f"daemon <b>{esc(me.get('name', '?'))}</b>",
             f"up <b>{fmt_duration(snap.get('uptime'))}</b>",
             f"routes <code>{esc(snap.get('routes_file', '—'))}</code>",
             f"reloads {fmt_count(reloads.get('applied', 0))} applied, "
             f"{fmt_count(reloads.get('rejected', 0))} rejected",
             f"Redis <code>{esc(snap.get('redis', '—'))}</code>",
             f"Kafka <code>{esc(', '.join(snap.get('kafka', {}).get('bootstrap_servers', [])) or '—')}</code>"]
    if registry:
        facts.append(f"Schema Registry <code>{esc(registry.get('url', '—'))}</code>")
    return (f'<header class="head" id="head" data-swap><div class="title"><span class="logo" aria-hidden="true">'
            f'</span><h1>karafkad</h1><span class="ver">{esc(snap.get("version", __version__))}</span>'
            f'<div class="badges">{"".join(badges)}</div></div>'
            f'<p class="facts">{"".join(f"<span class=fact>{fact}</span>" for fact in facts)}</p></header>')


def _nav(active: str, viewer: Viewer) -> str:
    links = "".join(f'<a href="{path}" class="{"on" if path == active else ""}">{esc(label)}</a>'
                    for path, label in NAV)
    if viewer.can_act:
        account = (f'<span class="who">signed in: {esc(viewer.who)}</span>'
                   f'<form class="act" method="post" action="/logout"><input type="hidden" name="csrf" '
                   f'value="{esc(viewer.csrf)}"><button class="btn link" type="submit">sign out</button></form>')
    elif viewer.actions:
        account = f'<a href="/login?back={esc(active)}" class="signin">sign in to act</a>'
    else:
        account = '<span class="who" title="web.auth is not configured">read-only</span>'
    return f'<nav class="nav">{links}<span class="account">{account}</span></nav>'


def _flash(messages: Sequence[str]) -> str:
    return "".join(f'<p class="flash" role="status">{esc(m)}</p>' for m in messages)


def shell(view: DeploymentView, body: str, *, active: str, viewer: Viewer = READ_ONLY, title: str = "",
          flash: Sequence[str] = (), refresh: bool = False, now: float | None = None) -> str:
    """A whole page: head, header, navigation, `body` (HTML), footer."""
    at = time.time() if now is None else now
    snap = view.own
    own = (f'<div class="top">{_header(view, at)}<div id="live" class="live" role="status"><span class="dot"></span>'
           f'<span class="text">live</span></div></div>{_nav(active, viewer)}{_flash(flash)}')
    footer = ('<footer>karafkad console · <a href="/metrics">/metrics</a> · <a href="/status.json">/status.json'
              '</a> · <a href="/deployment.json">/deployment.json</a>'
              + (f" · refreshes every {REFRESH_SECONDS} s" if refresh else "") + "</footer>")
    page_title = title or (f"karafkad · {snap.get('state', 'unknown')}"
                           f"{'' if snap.get('ready') else ' · not ready'}")
    parts = {"title": esc(page_title), "refresh": str(REFRESH_SECONDS if refresh else 0), "generated": f"{at:.3f}",
             "version": esc(__version__), "body": own + body + footer,
             "noscript": (f'<noscript><meta http-equiv="refresh" content="{REFRESH_SECONDS}"></noscript>'
                          if refresh else "")}
    # One pass over the template only: nothing substituted is scanned again for {{...}}.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m[1]], asset("console.html"))


def overview_page(view: DeploymentView, charts: str = "", *, viewer: Viewer = READ_ONLY,
                  flash: Sequence[str] = (), now: float | None = None) -> str:
    """The overview: the whole deployment, refreshing itself."""
    at = time.time() if now is None else now
    body = f'<main id="board" data-swap>{overview.body(view, viewer, charts, at)}</main>'
    return shell(view, body, active="/", viewer=viewer, flash=flash, refresh=True, now=at)


def render(snap: Mapping[str, Any]) -> str:
    """The overview of a deployment of one daemon, read-only (the daemon's own status snapshot only)."""
    return overview_page(single(snap), now=float(snap.get("generated_at") or time.time()))
