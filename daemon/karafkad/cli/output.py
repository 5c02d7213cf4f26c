"""What every command prints the same way: a routes file's problems, a progress bar for long runs, and who ran
it (for the events list)."""

from __future__ import annotations

import getpass
import socket
import sys
import time
from typing import TextIO

from karafkad.errors import ConfigError
from karafkad.text import plural


def print_problems(error: ConfigError, stream: TextIO | None = None) -> None:
    """Each problem on its own line (FILE:LINE:COL: field: message), then how many there were."""
    stream = stream or sys.stderr
    for problem in error.problems:
        print(problem, file=stream)
    print(f"{plural(len(error.problems), 'problem')} found", file=stream)


def operator() -> str:
    """Who runs the command, for the events list the consoles show: `user@host (command line)`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"{user}@{socket.gethostname()} (command line)"


def size(count: int) -> str:
    """A byte count for people: 999 B, 1.5 kB, 2.0 MB."""
    if count < 1000:
        return f"{count} B"
    scaled, unit = count / 1000, "kB"
    for bigger in ("MB", "GB"):
        if scaled < 1000:
            break
        scaled, unit = scaled / 1000, bigger
    return f"{scaled:.1f} {unit}"


class Progress:
    """A one-line progress bar on a terminal (stderr), redrawn at most ten times a second.

    `total` is in whatever `done` counts (bytes of a file, messages of a
    topic); `note` says the rest (`1,200 lines  1.5 MB/3.0 MB`).
    """

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self._drawn = 0.0

    def update(self, done: int, note: str = "", *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        share = min(done / self.total, 1.0)
        filled = int(share * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {share:4.0%}  {note}")
        self.stream.flush()

    def finish(self, done: int, note: str = "") -> None:
        self.update(done, note, force=True)
        self.stream.write("\n")
        self.stream.flush()


def progress_bar(total: int, stream: TextIO | None = None) -> Progress | None:
    """A Progress on `stream` (stderr) when it is a terminal, else None (logs and pipes get no bar)."""
    stream = stream or sys.stderr
    return Progress(total, stream) if stream.isatty() else None
