"""The installed `karafkad` console script, for the tests that run a command as a user does (a child process)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def karafkad_script() -> str:
    """The console script of the interpreter running the tests (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "karafkad"
    found = str(beside) if beside.exists() else shutil.which("karafkad")
    assert found, "the karafkad console script is not installed"
    return found


def run_karafkad(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    """`karafkad ARGS...` with `stdin` as its input; what it printed, as text, and its exit status."""
    return subprocess.run([karafkad_script(), *args], input=stdin.decode(), capture_output=True, text=True,
                          timeout=60)
