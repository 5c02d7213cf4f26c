"""The opt-in HTTP port: /ping, /ready, /metrics, /status.json and the status page at /.

A small ThreadingHTTPServer in a daemon thread; it only reads snapshots the
supervisor and the metrics registry already keep, so it can never block the
consumers. What the snapshot and the page hold is statuspage.py's business.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class HealthServer:
    """Binds at construction (so a taken port is an error before anything starts), serves after start()."""

    def __init__(self, host: str, port: int, *, ready: Callable[[], bool], status: Callable[[], dict[str, Any]],
                 registry: CollectorRegistry, page: Callable[[], str] | None = None,
                 why_not: Callable[[], str | None] | None = None) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "karafkad"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests are not worth a log line each

            def do_GET(self) -> None:
                try:
                    self._answer(self.path.split("?", 1)[0])
                except Exception as exc:  # else socketserver prints a traceback to stderr, outside the log format
                    with contextlib.suppress(OSError):
                        owner._send(self, 500, "text/plain; charset=utf-8", f"{type(exc).__name__}\n".encode())

            def _answer(self, path: str) -> None:
                if path == "/ping":
                    owner._send(self, 200, "text/plain; charset=utf-8", b"pong\n")
                elif path == "/ready":
                    ok = ready()
                    reason = why_not() if why_not is not None and not ok else None
                    owner._send(self, 200 if ok else 503, "text/plain; charset=utf-8",
                                b"ready\n" if ok else f"not ready: {reason}\n".encode() if reason else b"not ready\n")
                elif path == "/metrics":
                    owner._send(self, 200, CONTENT_TYPE_LATEST, generate_latest(registry))
                elif path == "/status.json":
                    owner._send(self, 200, "application/json", json.dumps(status(), default=str).encode())
                elif path == "/" and page is not None:
                    owner._send(self, 200, "text/html; charset=utf-8", page().encode())
                else:
                    owner._send(self, 404, "text/plain; charset=utf-8", b"not found\n")

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        # A short poll interval: stop() (at every shutdown) waits up to one interval.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, code: int, content_type: str, body: bytes) -> None:
        handler.send_response(code)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()
        handler.wfile.write(body)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():  # shutdown() waits for serve_forever, which never ran otherwise
            self.server.shutdown()
        self.server.server_close()

