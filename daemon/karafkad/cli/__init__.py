"""The top layer, the command line: one module per command group; nothing imports cli.

`parser` declares every command and option (what `--help` prints), `main`
runs the chosen command's module: `start` (puts the daemon together: the
runtime's supervisor, the web endpoints, signals, pidfile, logs),
`inspection` (check, routes, explain), `routetests` (test), `produce`,
`worker`, `control` (stop, reload, status). `output` prints problems and
progress bars the same way for all. May import every other layer.
"""

from karafkad.cli.main import main

__all__ = ["main"]
