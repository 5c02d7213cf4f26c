"""The console's requests and answers: which path shows what, who may act, and the headers that keep a page safe.

| GET                  | answer                                                             |
|----------------------|--------------------------------------------------------------------|
| /ping, /ready        | liveness, readiness                                                |
| /metrics             | Prometheus                                                         |
| /status.json         | this daemon's status snapshot                                      |
| /deployment.json     | every daemon's (store/instances.py), the pauses, the events       |
| /history.json        | the history's series (?range=15m, 1h, 6h)                          |
| /, /explorer, /dead-letters, /held | the console's pages (and /explorer.json, /dead-letters.json) |
| /login, /static/NAME | the sign-in page, the pages' style and script                      |

POST /login and /logout sign in and out; POST /actions/* act (actions.py).
An action needs web.auth (else 403), an identity (else 401), and, from a
browser's session, the session's CSRF token and a same-site origin (else
403). It is logged with who did it, and answered with a redirect back to
the page (which shows what was done) or, for a bearer token, with JSON.
Every answer says no-store and nosniff; pages carry a Content-Security-
Policy that allows nothing but this daemon's own files (no inline script).
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from karafkad.observability import get_logger
from karafkad.ops.dead_letter_reading import Page
from karafkad.ops.dead_letters import Selection
from karafkad.ops.explorer import Exploration, Explorer
from karafkad.routes.table import RouteTable
from karafkad.store import history as store_history
from karafkad.web import dead_letters, explorer, held, page
from karafkad.web.actions import Done, Form, Outcome
from karafkad.web.auth import COOKIE, SESSION_SECONDS, Gate, cookie_of, same_site
from karafkad.web.charts import DEFAULT_RANGE, RANGES, History
from karafkad.web.deployment import Deployment, DeploymentView, single
from karafkad.web.held import HeldOps
from karafkad.web.html import Viewer
from karafkad.web.login import login_body

log = get_logger(__name__)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
"""The pages' Content-Security-Policy: this daemon's own script and style only, nothing inline, no frames."""
MAX_BODY = 256 * 1024
"""Bytes of a POST body read at most (a re-drive of a page's selection is a few kilobytes)."""
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    """Lower-case names."""
    body: bytes = b""
    client: str = ""
    """The peer's address."""
    secure: bool = False
    """Over TLS."""

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    def arg(self, name: str) -> str:
        return (self.query.get(name) or [""])[0]


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = TEXT
    headers: list[tuple[str, str]] = field(default_factory=list)


def text(status: int, message: str) -> Response:
    return Response(status, (message + "\n").encode(), TEXT)


def as_json(data: Any, status: int = 200) -> Response:
    """JSON with `<`, `>` and `&` escaped as \\uXXXX: nothing in it can close a tag wherever it is pasted."""
    encoded = json.dumps(data, default=str).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Response(status, encoded.encode(), JSON)


def _local(path: str) -> str:
    """`path` if it is a path of this console (a redirect never leaves it), else `/`."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


def _back(request: Request) -> str:
    """The page an action was sent from (its Referer, when it is this console's), to go back to."""
    came = urlsplit(request.headers.get("referer", ""))
    if came.netloc != request.headers.get("host", "") or not came.path:
        return "/"
    return _local(came.path + (f"?{came.query}" if came.query else ""))


class ActionSet(Protocol):
    """The console's actions (actions.Actions): POST path -> the operation."""

    def handlers(self) -> Mapping[str, Callable[[Form, str], Outcome]]: ...


@dataclass
class Sources:
    """What the console reads and does (cli/start.py builds them on the daemon; tests on fakes)."""

    status: Callable[[], Mapping[str, Any]]
    ready: Callable[[], bool]
    registry: CollectorRegistry
    why_not: Callable[[], str | None] | None = None
    """Why the daemon is not ready, for /ready to say (None: it says only "not ready")."""
    deployment: Deployment | None = None
    history: History | None = None
    table: Callable[[], RouteTable] | None = None
    explorer: Explorer | None = None
    letters: Callable[[Selection], Page] | None = None
    actions: ActionSet | None = None
    held: HeldOps | None = None


class Console:
    """Answers the console's requests."""

    def __init__(self, sources: Sources, gate: Gate | None = None) -> None:
        self.sources = sources
        self.gate = gate or Gate(None)

    # --- dispatch -----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        answer = self._answer(request)
        answer.headers += [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                           ("Referrer-Policy", "same-origin")]
        if answer.content_type == HTML:
            answer.headers += [("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY")]
        if request.secure:
            answer.headers.append(("Strict-Transport-Security", "max-age=31536000"))
        return answer

    def _answer(self, request: Request) -> Response:
        path = request.path
        if request.method == "POST":
            return self._post(request)
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"GET or POST\n", TEXT, [("Allow", "GET, HEAD, POST")])
        if path == "/ping":
            return text(200, "pong")
        if path == "/ready":
            ok = self.sources.ready()
            reason = self.sources.why_not() if self.sources.why_not is not None and not ok else None
            return text(200 if ok else 503, "ready" if ok else f"not ready: {reason}" if reason else "not ready")
        if path == "/metrics":
            return Response(200, generate_latest(self.sources.registry), CONTENT_TYPE_LATEST)
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        if path == "/login":
            return self._page(request, "Sign in", login_body(self.gate.actions, request.arg("back"), ""), "")
        viewer = self.viewer(request)
        if self.gate.auth is not None and self.gate.auth.protect_reads and viewer.who is None:
            if path.endswith(".json"):
                return text(401, "sign in first (web.auth.protect_reads)")
            return Response(303, b"", TEXT, [("Location", "/login?" + urlencode({"back": path}))])
        routes: dict[str, Callable[[Request, Viewer], Response]] = {
            "/status.json": lambda r, v: as_json(self.sources.status()),
            "/deployment.json": self._deployment_json, "/history.json": self._history_json,
            "/": self._overview, "/explorer": self._explorer, "/explorer.json": self._explorer,
            "/dead-letters": self._dead_letters, "/dead-letters.json": self._dead_letters, "/held": self._held}
        handler = routes.get(path)
        return handler(request, viewer) if handler is not None else text(404, "not found")

    def viewer(self, request: Request) -> Viewer:
        identity = self.gate.identify(request.headers)
        if identity is None or identity.session is None:
            return Viewer(self.gate.actions)
        return Viewer(True, identity.who, identity.session.csrf)

    # --- pages ----------------------------------------------------------------------------------------------

    def _view(self) -> DeploymentView:
        own = self.sources.status()
        return self.sources.deployment.view(own) if self.sources.deployment is not None else single(own)

    def _flash(self, request: Request) -> list[str]:
        identity = self.gate.identify(request.headers)
        if identity is None or identity.session is None:
            return []
        said, identity.session.flash[:] = list(identity.session.flash), []
        return said

    def _page(self, request: Request, title: str, body: str, active: str) -> Response:
        view = self._view()
        html = page.shell(view, f'<main class="main">{body}</main>', active=active, viewer=self.viewer(request),
                          title=f"karafkad · {title}", flash=self._flash(request))
        return Response(200, html.encode(), HTML)

    def _overview(self, request: Request, viewer: Viewer) -> Response:
        span = request.arg("range") if request.arg("range") in RANGES else DEFAULT_RANGE
        drawn = self.sources.history.drawn(span) if self.sources.history is not None else ""
        html = page.overview_page(self._view(), drawn, viewer=viewer, flash=self._flash(request))
        return Response(200, html.encode(), HTML)

    def _deployment_json(self, request: Request, viewer: Viewer) -> Response:
        view = self._view()
        return as_json({"instances": [{"name": m.name, "seen_at": m.seen_at, "gone": m.gone, "own": m.own,
                                       "snapshot": m.snapshot} for m in view.members],
                        "error": view.error, "pauses": view.own.get("pauses", []), "operations": view.operations})

    def _history_json(self, request: Request, viewer: Viewer) -> Response:
        span = request.arg("range") if request.arg("range") in RANGES else DEFAULT_RANGE
        if self.sources.history is None:
            return text(404, "no history here")
        found, error = self.sources.history.get(span)
        return as_json({"range": span, "step": store_history.STEP, "error": error, "series": found})

    def _explorer(self, request: Request, viewer: Viewer) -> Response:
        source = self.sources.explorer
        if source is None:
            return text(404, "no explorer here")
        topics = source.topics()
        asked = any(request.query.get(k) for k in ("topic", "partition", "offset", "time", "contains"))
        query = explorer.parse_query(request.query, topics)
        problem = query if isinstance(query, str) else None
        found: Exploration | None = None
        if not isinstance(query, str) and (asked or request.path.endswith(".json")):
            found = source.explore(query)
        if request.path.endswith(".json"):
            if found is None:
                return as_json({"problem": problem}, 400)
            return as_json(explorer.as_json(found))
        body = explorer.body(topics, request.query, None if isinstance(query, str) else query, found, problem)
        return self._page(request, "explorer", body, "/explorer")

    def _dead_letters(self, request: Request, viewer: Viewer) -> Response:
        browse, table = self.sources.letters, self.sources.table
        if browse is None or table is None:
            return text(404, "no dead letters here")
        selection = dead_letters.parse_selection(request.query)
        problem = selection if isinstance(selection, str) else None
        found = browse(selection) if not isinstance(selection, str) and table().dead_letter_topics() else None
        if request.path.endswith(".json"):
            return as_json(dead_letters.as_json(found)) if found is not None else as_json({"problem": problem}, 400)
        chosen = None if isinstance(selection, str) else selection
        body = dead_letters.body(table(), request.query, chosen, found, problem, viewer)
        return self._page(request, "dead letters", body, "/dead-letters")

    def _held(self, request: Request, viewer: Viewer) -> Response:
        return self._page(request, "held keys", held.body(self.sources.held, viewer, time.time()), "/held")

    @staticmethod
    def _static(name: str) -> Response:
        kind = page.ASSETS.get(name)
        if kind is None:
            return text(404, "not found")
        return Response(200, page.asset(name).encode(), kind)

    # --- sign-in and actions --------------------------------------------------------------------------------

    def _post(self, request: Request) -> Response:
        if request.path == "/login":
            return self._login(request)
        if request.path == "/logout":
            return self._logout(request)
        actions = self.sources.actions.handlers() if self.sources.actions is not None else {}
        if request.path not in actions and not request.path.startswith("/actions/"):
            return text(404, "not found")
        if not self.gate.actions:
            return text(403, "refused: this console is read-only (web.auth is not configured in the routes file)")
        identity = self.gate.identify(request.headers)
        if identity is None:
            if self.gate.bearer(request.headers) is not None:
                self.gate.failures.note(request.client)
                log.warning("console action refused: wrong token", client=request.client, path=request.path)
                return text(401, "refused: the token is not valid")
            return text(401, "refused: sign in first (/login), or send Authorization: Bearer TOKEN")
        form = request.form()
        session = identity.session
        if session is not None:
            sent = (form.get("csrf") or [""])[0]
            if not same_site(request.headers, request.headers.get("host", "")) or not hmac.compare_digest(
                    sent.encode(), session.csrf.encode()):
                log.warning("console action refused: cross-site request (CSRF)", client=request.client,
                            path=request.path, who=session.who)
                return text(403, "refused: this request did not come from the console's own page")
        perform = actions.get(request.path)
        if perform is None:
            return text(404, "no such action here")
        who = f"{identity.who} from {request.client}"
        outcome = perform(form, who)
        if isinstance(outcome, Done):
            log.info("console action", who=who, action=request.path, done=outcome.message)
        else:
            log.warning("console action refused", who=who, action=request.path, reason=outcome.reason)
        message = outcome.message if isinstance(outcome, Done) else f"refused: {outcome.reason}"
        if session is None:
            status = 200 if isinstance(outcome, Done) else outcome.status
            return as_json({"ok": isinstance(outcome, Done), "message": message}, status)
        session.flash.append(message)
        return Response(303, b"", TEXT, [("Location", _back(request))])

    def _login(self, request: Request) -> Response:
        form = request.form()

        def one(name: str) -> str:
            return (form.get(name) or [""])[0]

        back = _local(one("back") or "/")
        if not self.gate.actions:
            return text(403, "this console is read-only: nobody signs in (web.auth is not configured)")
        if self.gate.failures.blocked(request.client):
            return text(429, "too many failed sign-ins from this address; wait a minute")
        if not same_site(request.headers, request.headers.get("host", "")):
            return text(403, "refused: this request did not come from the console's own page")
        who = self.gate.sign_in(one("token"), one("user"), one("password"))
        if who is None:
            self.gate.failures.note(request.client)
            log.warning("console sign-in refused", client=request.client, user=one("user") or None)
            body = page.shell(self._view(), f'<main class="main">{login_body(True, back, "wrong credentials")}'
                                            "</main>", active="", title="karafkad · sign in")
            return Response(401, body.encode(), HTML)
        session_id, _ = self.gate.sessions.create(who)
        log.info("console sign-in", who=who, client=request.client)
        cookie = (f"{COOKIE}={session_id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}"
                  + ("; Secure" if request.secure else ""))
        return Response(303, b"", TEXT, [("Location", back), ("Set-Cookie", cookie)])

    def _logout(self, request: Request) -> Response:
        identity = self.gate.identify(request.headers)
        if identity is not None and identity.session is not None:
            if not hmac.compare_digest((request.form().get("csrf") or [""])[0].encode(),
                                       identity.session.csrf.encode()):
                return text(403, "refused: this request did not come from the console's own page")
            self.gate.sessions.drop(cookie_of(request.headers))
            log.info("console sign-out", who=identity.who, client=request.client)
        return Response(303, b"", TEXT, [("Location", "/"), ("Set-Cookie", f"{COOKIE}=; Path=/; Max-Age=0")])
