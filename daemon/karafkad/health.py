"""The opt-in HTTP port: /ping, /ready, /metrics, /status.json and a status page at /.

A small ThreadingHTTPServer in a daemon thread; it only reads snapshots the
supervisor and the metrics registry already keep, so it can never block the
consumers.
"""

from __future__ import annotations

import contextlib
import html
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class HealthServer:
    """Binds at construction (so a taken port is an error before anything starts), serves after start()."""

    def __init__(self, host: str, port: int, *, ready: Callable[[], bool], status: Callable[[], dict[str, Any]],
                 registry: CollectorRegistry, page: Callable[[], str] | None = None) -> None:
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
                    owner._send(self, 200 if ok else 503, "text/plain; charset=utf-8",
                                b"ready\n" if ok else b"not ready\n")
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


def status_page(snapshot: dict[str, Any], recent: list[dict[str, Any]]) -> str:
    """The page at /: the status snapshot and the latest problems, as one small self-refreshing HTML page."""
    def cell(value: Any) -> str:
        return f"<td>{html.escape(str(value))}</td>"

    rows = []
    for group, info in snapshot.get("groups", {}).items():
        for thread in info["threads"]:
            rows.append("<tr>" + "".join(cell(v) for v in (
                group, thread["name"], "yes" if thread["alive"] else "NO", "yes" if thread["joined"] else "no",
                ", ".join(thread["partitions"]) or "-", ", ".join(info["routes"]))) + "</tr>")
    problems = [
        "<tr>" + "".join(cell(v) for v in (
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(item["time"])), item["kind"], item["message"])) + "</tr>"
        for item in recent
    ]
    ready = "ready" if snapshot.get("ready") else "NOT READY"
    return (
        '<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">'
        "<title>karafkad</title><style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}"
        "</style></head><body>"
        f"<h1>karafkad: {html.escape(str(snapshot.get('state')))}, {ready}</h1>"
        f"<p>routes file {html.escape(str(snapshot.get('routes_file')))}; "
        f"Redis {html.escape(str(snapshot.get('redis')))}; "
        f'<a href="/metrics">/metrics</a> <a href="/status.json">/status.json</a></p>'
        "<h2>Consumer threads</h2><table><tr><th>group</th><th>thread</th><th>alive</th><th>joined</th>"
        f"<th>partitions</th><th>routes</th></tr>{''.join(rows)}</table>"
        "<h2>Recent problems (UTC)</h2><table><tr><th>time</th><th>kind</th><th>message</th></tr>"
        f"{''.join(problems) or '<tr><td>none</td></tr>'}</table></body></html>"
    )
