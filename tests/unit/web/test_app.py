"""web/app.py: what each path answers, who may act (read-only without web.auth, 401 for a wrong token, 403 for a
forged cross-site POST), the sign-in, and the headers that keep every answer safe."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from prometheus_client import CollectorRegistry, Counter

from karafkad.config.secrets import Secret
from karafkad.config.settings import WebAuth
from karafkad.web.actions import Done, Form, Outcome, Refused
from karafkad.web.app import Console, Request, Response, Sources
from karafkad.web.auth import FAILURES_ALLOWED, Gate, hash_password

TOKEN = "0123456789abcdef-token"
HOST = "127.0.0.1:8080"


class FakeActions:
    """The console's actions, recording who asked for what."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, list[str]], str]] = []

    def handlers(self) -> Mapping[str, Callable[[Form, str], Outcome]]:
        def pause(form: Form, who: str) -> Outcome:
            self.calls.append(("pause", dict(form), who))
            if form.get("route") == ["nope"]:
                return Refused("no route 'nope'")
            return Done(f"route {form['route'][0]} paused by {who}")

        return {"/actions/pause": pause}


class App:
    """A Console on fakes: a settable snapshot and readiness, a registry, recorded actions."""

    def __init__(self, auth: WebAuth | None = None) -> None:
        self.snapshot: dict[str, Any] = {"state": "running", "ready": True, "instance": {"name": "a"},
                                         "generated_at": 100.0}
        self.ready = False
        self.why_not: str | None = None
        self.registry = CollectorRegistry()
        self.counter = Counter("karafkad_jobs_enqueued", "RQ jobs written to Redis.", ["route"],
                               registry=self.registry)
        self.actions = FakeActions()
        self.console = Console(Sources(lambda: self.snapshot, lambda: self.ready, self.registry,
                                       why_not=lambda: self.why_not, actions=self.actions), Gate(auth))

    def get(self, path: str, headers: dict[str, str] | None = None, secure: bool = False) -> Response:
        route, _, query = path.partition("?")
        return self.console.handle(Request("GET", route, parse_qs(query), {"host": HOST, **(headers or {})},
                                           client="10.0.0.9", secure=secure))

    def post(self, path: str, body: str = "", headers: dict[str, str] | None = None) -> Response:
        return self.console.handle(Request("POST", path, {}, {"host": HOST, **(headers or {})}, body.encode(),
                                           client="10.0.0.9"))

    def sign_in(self, body: str = f"token={TOKEN}") -> tuple[str, str]:
        """(the session cookie header, its CSRF token) after signing in."""
        answer = self.post("/login", body, {"origin": f"http://{HOST}"})
        assert answer.status == 303, answer.body
        cookie = dict(answer.headers)["Set-Cookie"].split(";")[0]
        page = self.get("/", {"cookie": cookie}).body.decode()
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found, "no CSRF token on the page"
        return cookie, found.group(1)


def header(answer: Response, name: str) -> str | None:
    return dict(answer.headers).get(name)


def token_auth() -> WebAuth:
    return WebAuth(token=Secret(TOKEN))


class TestEndpoints:
    def test_ping_and_readiness(self) -> None:
        """/ping is liveness; /ready follows the supervisor's readiness on every request."""
        app = App()
        assert (app.get("/ping").status, app.get("/ping").body) == (200, b"pong\n")
        assert app.get("/ready").status == 503
        app.ready = True
        assert (app.get("/ready").status, app.get("/ready").body) == (200, b"ready\n")

    def test_not_ready_says_why(self) -> None:
        """/ready's 503 names the supervisor's reason (a registry that cannot answer, a group not joined)."""
        app = App()
        app.why_not = "the schema registry cannot be asked: connection refused"
        assert (app.get("/ready").status, app.get("/ready").body) == (
            503, b"not ready: the schema registry cannot be asked: connection refused\n")

    def test_metrics_in_the_prometheus_text_format(self) -> None:
        """/metrics is the registry's current values, with Prometheus' content type."""
        app = App()
        app.counter.labels("orders").inc(3)
        answer = app.get("/metrics")
        assert answer.content_type.startswith("text/plain; version=")
        assert b'karafkad_jobs_enqueued_total{route="orders"} 3.0' in answer.body

    def test_status_json_is_the_snapshot_with_markup_escaped(self) -> None:
        """Values JSON cannot hold (a Path) become strings; `<`, `>` and `&` are \\u escapes, so nothing in it can
        close a tag wherever it is pasted, and it still reads back the same."""
        app = App()
        app.snapshot = {"routes_file": Path("/etc/r.yaml"), "evil": "</script><b>&"}
        answer = app.get("/status.json")
        assert answer.content_type == "application/json"
        assert b"<" not in answer.body and b">" not in answer.body and b"&" not in answer.body
        assert json.loads(answer.body) == {"routes_file": "/etc/r.yaml", "evil": "</script><b>&"}

    @pytest.mark.parametrize("path", ["/nope", "/ready/extra", "/metrics.txt", "/static/../app.py",
                                      "/static/secret.txt"])
    def test_unknown_paths_are_404(self, path: str) -> None:
        """Unknown paths are 404."""
        assert App().get(path).status == 404

    def test_the_static_files_ship_in_the_package(self) -> None:
        """The pages' style and script, with their types (nothing is loaded from elsewhere)."""
        app = App()
        assert app.get("/static/console.css").content_type == "text/css; charset=utf-8"
        script = app.get("/static/console.js")
        assert script.content_type == "text/javascript; charset=utf-8" and b"use strict" in script.body

    def test_other_methods_are_refused(self) -> None:
        """Any method but GET, HEAD and POST is 405, with the methods allowed."""
        answer = App().console.handle(Request("DELETE", "/"))
        assert (answer.status, header(answer, "Allow")) == (405, "GET, HEAD, POST")

    def test_every_answer_is_uncached_and_unsniffed_and_pages_have_a_strict_policy(self) -> None:
        """no-store (a cached 200 from /ready would hide an outage), nosniff; a page allows only this daemon's
        own script and style, no frames; over TLS, HSTS."""
        app = App()
        ping, page = app.get("/ping"), app.get("/")
        assert header(ping, "Cache-Control") == "no-store" and header(ping, "X-Content-Type-Options") == "nosniff"
        policy = header(page, "Content-Security-Policy") or ""
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
        assert header(page, "X-Frame-Options") == "DENY"
        assert header(app.get("/ping", secure=True), "Strict-Transport-Security") == "max-age=31536000"
        assert header(ping, "Strict-Transport-Security") is None


class TestReadOnly:
    def test_every_action_is_refused_with_403_and_none_is_done(self) -> None:
        """Every action is refused with 403 and none is done."""
        app = App()
        answer = app.post("/actions/pause", "group=g&route=r", {"authorization": f"Bearer {TOKEN}"})
        assert answer.status == 403 and b"read-only" in answer.body
        assert app.actions.calls == []

    def test_no_action_is_offered_and_nobody_signs_in(self) -> None:
        """No action is offered and nobody signs in."""
        app = App()
        app.snapshot["routes"] = [{"group": "g", "name": "r", "topics": ["t"], "queue": "q", "filter": None,
                                   "dead_letter": None, "on_error": "skip"}]
        page = app.get("/").body.decode()
        assert "/actions/" not in page and "<form" not in page and ">read-only<" in page
        assert app.post("/login", f"token={TOKEN}").status == 403


class TestActions:
    def test_without_credentials_401(self) -> None:
        """Without credentials 401."""
        app = App(token_auth())
        assert app.post("/actions/pause", "route=r").status == 401
        assert app.actions.calls == []

    def test_a_wrong_token_is_401(self) -> None:
        """A wrong token is 401."""
        app = App(token_auth())
        answer = app.post("/actions/pause", "route=r", {"authorization": "Bearer not-the-token-at-all"})
        assert answer.status == 401 and app.actions.calls == []

    def test_the_token_acts_and_says_who_did_it(self) -> None:
        """A bearer token needs no CSRF token (a browser never sends one on its own): JSON answers."""
        app = App(token_auth())
        answer = app.post("/actions/pause", "route=r", {"authorization": f"Bearer {TOKEN}"})
        assert (answer.status, json.loads(answer.body)) == (
            200, {"ok": True, "message": "route r paused by token (bearer) from 10.0.0.9"})
        assert app.actions.calls == [("pause", {"route": ["r"]}, "token (bearer) from 10.0.0.9")]

    def test_a_refusal_is_its_status_and_reason(self) -> None:
        """A refusal is its status and reason."""
        app = App(token_auth())
        answer = app.post("/actions/pause", "route=nope", {"authorization": f"Bearer {TOKEN}"})
        assert (answer.status, json.loads(answer.body)["message"]) == (400, "refused: no route 'nope'")

    def test_a_signed_in_browser_acts_with_its_csrf_token_and_goes_back(self) -> None:
        """The form's POST: done, redirected to the page it came from, which then says what was done (once)."""
        app = App(token_auth())
        cookie, csrf = app.sign_in()
        answer = app.post("/actions/pause", f"route=r&csrf={csrf}",
                          {"cookie": cookie, "origin": f"http://{HOST}", "referer": f"http://{HOST}/?range=6h"})
        assert (answer.status, header(answer, "Location")) == (303, "/?range=6h")
        assert app.actions.calls[0][2] == "token from 10.0.0.9"
        assert "route r paused by token from 10.0.0.9" in app.get("/", {"cookie": cookie}).body.decode()
        assert "paused by token" not in app.get("/", {"cookie": cookie}).body.decode()

    @pytest.mark.parametrize("forged", [
        {"origin": "http://evil.example"},
        {"origin": f"http://{HOST}", "sec-fetch-site": "cross-site"},
        {"origin": "null"},
    ])
    def test_a_forged_cross_site_post_is_refused_even_with_the_token(self, forged: dict[str, str]) -> None:
        """The browser sent the session cookie along, even the right CSRF token: another site's origin is
        refused (403), nothing is done."""
        app = App(token_auth())
        cookie, csrf = app.sign_in()
        answer = app.post("/actions/pause", f"route=r&csrf={csrf}", {"cookie": cookie, **forged})
        assert answer.status == 403 and app.actions.calls == []

    def test_a_post_without_the_csrf_token_is_refused(self) -> None:
        """A post without the CSRF token is refused."""
        app = App(token_auth())
        cookie, _ = app.sign_in()
        answer = app.post("/actions/pause", "route=r&csrf=guessed", {"cookie": cookie, "origin": f"http://{HOST}"})
        assert answer.status == 403 and app.actions.calls == []

    def test_the_page_offers_the_buttons_once_signed_in(self) -> None:
        """The page offers the buttons once signed in."""
        app = App(token_auth())
        app.snapshot["routes"] = [{"group": "g", "name": "r", "topics": ["t"], "queue": "q", "filter": None,
                                   "dead_letter": None, "on_error": "skip"}]
        assert 'action="/actions/pause"' not in app.get("/").body.decode()
        cookie, csrf = app.sign_in()
        page = app.get("/", {"cookie": cookie}).body.decode()
        assert 'action="/actions/pause"' in page and f'name="csrf" value="{csrf}"' in page


class TestSignIn:
    def test_the_cookie_is_http_only_strict_and_secure_over_tls(self) -> None:
        """The session cookie is HttpOnly and SameSite=Strict, and Secure when the console is served over TLS."""
        app = App(token_auth())
        answer = app.post("/login", f"token={TOKEN}&back=/held", {"origin": f"http://{HOST}"})
        cookie = header(answer, "Set-Cookie") or ""
        assert header(answer, "Location") == "/held"
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        secure = app.console.handle(Request("POST", "/login", {}, {"host": HOST}, f"token={TOKEN}".encode(),
                                            "10.0.0.9", secure=True))
        assert "Secure" in (header(secure, "Set-Cookie") or "")

    def test_a_user_signs_in_with_the_password(self) -> None:
        """A user signs in with the password."""
        auth = WebAuth(user="ops", password_hash=Secret(hash_password("s3cret", iterations=1000)))
        app = App(auth)
        assert app.post("/login", "user=ops&password=wrong").status == 401
        cookie, _ = app.sign_in("user=ops&password=s3cret")
        assert "signed in: ops" in app.get("/", {"cookie": cookie}).body.decode()

    def test_wrong_credentials_401_and_then_429(self) -> None:
        """Failed sign-ins from one address are counted; past the allowance it is told to wait."""
        app = App(token_auth())
        for _ in range(FAILURES_ALLOWED):
            assert app.post("/login", "token=wrong-wrong-wrong").status == 401
        assert app.post("/login", f"token={TOKEN}").status == 429

    def test_the_redirect_never_leaves_the_console(self) -> None:
        """The redirect never leaves the console."""
        app = App(token_auth())
        for back in ("//evil.example/", "https://evil.example/", "/\\evil"):
            answer = app.post("/login", f"token={TOKEN}&back={back}")
            assert header(answer, "Location") == "/"

    def test_sign_out_ends_the_session(self) -> None:
        """Sign out ends the session."""
        app = App(token_auth())
        cookie, csrf = app.sign_in()
        app.post("/logout", f"csrf={csrf}", {"cookie": cookie})
        assert "signed in" not in app.get("/", {"cookie": cookie}).body.decode()


class TestProtectedReads:
    def test_pages_need_signing_in_and_probes_do_not(self) -> None:
        """web.auth.protect_reads: pages redirect to the sign-in, JSON is 401; /ping, /ready, /metrics answer."""
        app = App(WebAuth(token=Secret(TOKEN), protect_reads=True))
        page = app.get("/explorer")
        assert (page.status, header(page, "Location")) == (303, "/login?back=%2Fexplorer")
        assert app.get("/deployment.json").status == 401
        assert {app.get(p).status for p in ("/ping", "/metrics", "/login")} == {200}
        cookie, _ = app.sign_in()
        assert app.get("/deployment.json", {"cookie": cookie}).status == 200
