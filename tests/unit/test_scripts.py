"""scripts/services status: each service's state said, and the exit status its header comment gives.

No service is started: a service "runs" when its pid file names a live process
(lib.sh's pid_of), so a sleeping child stands in for one.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "scripts" / "services"


@pytest.fixture
def sleeper() -> Iterator[int]:
    """The pid of a live process, to write into a pid file."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc.pid
    proc.kill()
    proc.wait()


def status(state: Path) -> subprocess.CompletedProcess[str]:
    """`scripts/services status` on its own state folder and ports no test service uses."""
    environ = {**os.environ, "KARAFKAD_STATE_DIR": str(state), "KARAFKAD_KAFKA_PORT": "29992",
               "KARAFKAD_REDIS_PORT": "29979", "KARAFKAD_REDIS_TLS_PORT": "0"}
    return subprocess.run([str(SERVICES), "status"], capture_output=True, text=True, env=environ, timeout=30)


def pid_file(state: Path, name: str, pid: int) -> None:
    (state / "pids").mkdir(parents=True, exist_ok=True)
    (state / "pids" / f"{name}.pid").write_text(f"{pid}\n")


class TestServicesStatus:
    def test_stopped_services_are_each_named_and_the_status_is_1(self, tmp_path: Path) -> None:
        """Nothing runs: both are said to be stopped (before, `set -e` ended it silently at the first), exit 1."""
        result = status(tmp_path)
        assert result.returncode == 1
        assert result.stderr.splitlines() == ["kafka: not running (port 29992)", "redis: not running (port 29979)"]

    def test_one_down_is_still_1_and_the_other_is_said_to_run(self, tmp_path: Path, sleeper: int) -> None:
        """Redis runs, the broker does not: both states said, exit 1."""
        pid_file(tmp_path, "redis", sleeper)
        result = status(tmp_path)
        assert result.returncode == 1
        assert "kafka: not running (port 29992)" in result.stderr
        assert f"redis: running (pid {sleeper}) on 127.0.0.1:29979" in result.stderr

    def test_all_running_is_0(self, tmp_path: Path, sleeper: int) -> None:
        """Both run: exit 0, each said to run."""
        pid_file(tmp_path, "kafka", sleeper)
        pid_file(tmp_path, "redis", sleeper)
        result = status(tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"kafka: running (pid {sleeper})" in result.stderr and f"redis: running (pid {sleeper})" in result.stderr

    def test_a_cluster_started_here_is_covered_too(self, tmp_path: Path, sleeper: int) -> None:
        """A pid file of the three-node cluster: its nodes are listed as well, and a stopped node makes it 1."""
        pid_file(tmp_path, "kafka", sleeper)
        pid_file(tmp_path, "redis", sleeper)
        pid_file(tmp_path, "kafka-cluster-1", sleeper)
        result = status(tmp_path)
        assert result.returncode == 1
        assert "kafka-cluster: node 1 running" in result.stderr
        assert "kafka-cluster: node 2 not running" in result.stderr
