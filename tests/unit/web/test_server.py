"""The opt-in HTTP port: /ping, /ready, /metrics, /status.json, the status page, 404.

What the page and the snapshot hold is tested in test_statuspage.py.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter

from karafkad.web.server import HealthServer


class Fakes:
    """What the supervisor and the metrics registry would hand the server."""

    def __init__(self) -> None:
        self.is_ready = False
        self.snapshot: dict[str, Any] = {"state": "starting", "ready": False, "groups": {}}
        self.registry = CollectorRegistry()
        self.enqueued = Counter("karafkad_jobs_enqueued", "RQ jobs written to Redis.", ["route"],
                                registry=self.registry)


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


def _serve(fakes: Fakes, page: Callable[[], str] | None = None) -> HealthServer:
    server = HealthServer("127.0.0.1", 0, ready=lambda: fakes.is_ready, status=lambda: fakes.snapshot,
                          registry=fakes.registry, page=page)
    server.start()
    return server


@pytest.fixture
def server(fakes: Fakes) -> Iterator[HealthServer]:
    server = _serve(fakes)
    yield server
    server.stop()


def get(server: HealthServer, path: str) -> tuple[int, str, str]:
    """Status, Content-Type and body of GET path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


class TestHealthServer:
    def test_ping_answers_while_not_ready(self, server: HealthServer) -> None:
        """/ping is liveness: 200 pong even before the groups have joined."""
        assert get(server, "/ping") == (200, "text/plain; charset=utf-8", "pong\n")

    def test_ready_is_503_until_ready_then_200(self, server: HealthServer, fakes: Fakes) -> None:
        """/ready follows the supervisor's readiness on every request: 503, then 200, then 503 again."""
        assert get(server, "/ready")[::2] == (503, "not ready\n")
        fakes.is_ready = True
        assert get(server, "/ready")[::2] == (200, "ready\n")
        fakes.is_ready = False
        assert get(server, "/ready")[0] == 503

    def test_metrics_in_the_prometheus_text_format(self, server: HealthServer, fakes: Fakes) -> None:
        """/metrics is the registry's current values, with Prometheus' content type."""
        fakes.enqueued.labels("orders").inc(3)
        status, content_type, body = get(server, "/metrics")
        assert status == 200
        assert content_type.startswith("text/plain; version=")
        assert 'karafkad_jobs_enqueued_total{route="orders"} 3.0' in body

    def test_status_json_is_the_supervisor_snapshot(self, server: HealthServer, fakes: Fakes) -> None:
        """/status.json serialises the snapshot; values JSON cannot hold (a Path) become strings."""
        fakes.snapshot = {"state": "running", "routes_file": Path("/etc/karafkad/routes.yaml"), "groups": {}}
        status, content_type, body = get(server, "/status.json")
        assert (status, content_type) == (200, "application/json")
        assert json.loads(body) == {"state": "running", "routes_file": "/etc/karafkad/routes.yaml", "groups": {}}

    def test_query_strings_are_ignored(self, server: HealthServer) -> None:
        """A probe adding ?x=1 (cache busting) gets the same answer."""
        assert get(server, "/ping?x=1")[0] == 200

    @pytest.mark.parametrize("path", ["/", "/nope", "/ready/extra", "/metrics.txt"])
    def test_unknown_paths_are_404(self, server: HealthServer, path: str) -> None:
        """Anything else is 404 (and / too, when no status page is given)."""
        assert get(server, path)[::2] == (404, "not found\n")

    def test_status_page_at_root_when_given(self, fakes: Fakes) -> None:
        """With a page callable, / serves its HTML."""
        server = _serve(fakes, page=lambda: "<h1>karafkad</h1>")
        try:
            assert get(server, "/") == (200, "text/html; charset=utf-8", "<h1>karafkad</h1>")
        finally:
            server.stop()

    def test_responses_are_not_cached(self, server: HealthServer) -> None:
        """Every answer says Cache-Control: no-store (a cached 200 from /ready would hide an outage)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/ping", timeout=5) as response:
            assert response.headers["Cache-Control"] == "no-store"

    def test_stop_frees_the_port(self, fakes: Fakes) -> None:
        """After stop() the port can be bound again (a restart of the HTTP side never finds it taken)."""
        server = _serve(fakes)
        port = server.port
        server.stop()
        again = HealthServer("127.0.0.1", port, ready=lambda: True, status=dict, registry=fakes.registry)
        again.stop()

    def test_a_taken_port_raises_oserror(self, server: HealthServer, fakes: Fakes) -> None:
        """Binding a port in use fails at construction, so `start` can refuse with exit 3."""
        with pytest.raises(OSError):
            HealthServer("127.0.0.1", server.port, ready=lambda: True, status=dict, registry=fakes.registry)


class TestFailures:
    def test_a_failing_snapshot_is_a_500_not_a_dead_server(self, fakes: Fakes) -> None:
        """A snapshot that raises (say, read while a reload changes the groups) answers 500; the next request works."""
        calls = []

        def flaky() -> dict[str, Any]:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("dictionary changed size during iteration")
            return {"state": "running"}

        server = HealthServer("127.0.0.1", 0, ready=lambda: True, status=flaky, registry=fakes.registry)
        server.start()
        try:
            assert get(server, "/status.json")[::2] == (500, "RuntimeError\n")
            assert get(server, "/status.json")[::2] == (200, '{"state": "running"}')
        finally:
            server.stop()
