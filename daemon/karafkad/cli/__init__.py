"""The command line, the top floor: one module per command group; nothing imports cli.

`parser` declares every command and option (what `--help` prints), `main`
runs the chosen command's module: `start` (puts the daemon together: the
supervisor, the web endpoints, signals, pidfile, logs), `inspection`
(check, routes, explain), `route_tests` (test), `produce`, `worker`,
`control` (stop, reload, status), `replay`, `dead_letters` (list, redrive),
`topics` (plan, apply), `held` (list, retry, skip), `pauses` (pause, resume,
paused), `web_password` (the hash for web.auth.password_hash); `console`
puts the console together on a running daemon for `start`. `output` prints
problems and progress bars the same way for all. May import every other
floor.
"""

from karafkad.cli.main import main

__all__ = ["main"]
