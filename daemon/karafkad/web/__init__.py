"""The web: the opt-in HTTP port and the operators' console on it.

`server` is the HTTP (and TLS) plumbing; `app` answers each request: which
path shows what, who may act (`auth`: sign-in, sessions, CSRF), and the
headers that keep a page safe. `board` gathers this daemon's status snapshot
(the supervisor's status, the metrics, the RQ queue depths); `publishing`
publishes it, and its share of the history, for every console of the
deployment (maintenance chores); `deployment` reads every daemon's back and
sums them. The pages: `page` (the shell), `overview`, `charts` (the history
as SVG), `explorer`, `dead_letters`, `held`, `login`, drawn with `html`'s
escaping helpers and the files in `static/`. `actions` are the console's
buttons, each the ops floor's operation its command runs. May import the ops
floor (for the actions), the supervision (for the status snapshot's shape)
and every floor below them.
"""
