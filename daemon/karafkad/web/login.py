"""The console's sign-in page: a token, or a user and password (web.auth); nothing to sign in to without it."""

from __future__ import annotations

from karafkad.web.html import empty, esc, section


def login_body(actions: bool, back: str, error: str) -> str:
    """The sign-in card (`back`: the page to return to; `error`: why the last try failed)."""
    if not actions:
        return section("Sign in", empty("This console is read-only: web.auth is not configured in the routes file, "
                                        "so nobody signs in and no action is offered."))
    said = f'<p class="flash bad" role="alert">{esc(error)}</p>' if error else ""
    form = (f'<form class="query" method="post" action="/login">{said}'
            f'<input type="hidden" name="back" value="{esc(back or "/")}">'
            '<label>Token<input type="password" name="token" autocomplete="current-password"></label>'
            '<p class="or">or</p>'
            '<label>User<input name="user" autocomplete="username"></label>'
            '<label>Password<input type="password" name="password" autocomplete="current-password"></label>'
            '<button class="btn primary" type="submit">Sign in</button></form>')
    return f'<div class="login">{section("Sign in to act", form)}</div>'
