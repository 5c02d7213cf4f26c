"""Fixtures shared by the unit tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tables import forgetting_plugin_imports


@pytest.fixture
def isolated_imports() -> Iterator[None]:
    """Plugin modules a test imports (from folders it put on sys.path) are forgotten afterwards.
    A test module opts in with `pytestmark = pytest.mark.usefixtures("isolated_imports")`."""
    with forgetting_plugin_imports():
        yield


HOLDER = textwrap.dedent("""
    import signal, sys, time
    from pathlib import Path
    from karafkad.supervision.pidfile import Pidfile

    seen = Path(sys.argv[2])
    stop = []
    def hup(*_):
        # Written aside and renamed: a test that sees the file exist reads it whole.
        seen.with_suffix(".tmp").write_text("SIGHUP")
        seen.with_suffix(".tmp").rename(seen)

    signal.signal(signal.SIGHUP, hup)
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with Pidfile(Path(sys.argv[1])):
        print("holding", flush=True)
        while not stop:
            time.sleep(0.05)
        time.sleep(0.3)  # a drain takes a moment; stop must wait for it
""")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    """A real process holding tmp_path/karafkad.pid the way the daemon does."""
    path, seen = tmp_path / "karafkad.pid", tmp_path / "seen"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seen)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout is not None
    assert proc.stdout.readline() == "holding\n"
    yield proc, path, seen
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
