"""The opt-in HTTP port: a small ThreadingHTTPServer in a daemon thread, over TLS when web.tls says so.

Each request runs on a thread of its own and is answered by the console
(app.py), which reads snapshots the daemon already keeps, Redis and Kafka:
it never touches a consumer thread. Over TLS, the handshake happens on the
request's thread too (with a timeout), so a slow client cannot stall the
others.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from karafkad.web.app import MAX_BODY, Request, Response, text

HANDSHAKE_TIMEOUT = 10.0
"""Seconds a TLS client has to finish its handshake."""

Handle = Callable[[Request], Response]


def tls_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A server context for web.tls: TLS 1.2 at least, the certificate and key loaded (an error says which)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return  # a client that does not speak TLS, or gives up: nothing to answer
            request.settimeout(None)
        super().finish_request(request, client_address)


class HealthServer:
    """Binds at construction (so a taken port is an error before anything starts), serves after start()."""

    def __init__(self, host: str, port: int, handle: Handle, tls: ssl.SSLContext | None = None) -> None:
        secure = tls is not None

        class Handler(BaseHTTPRequestHandler):
            server_version = "karafkad"
            sys_version = ""

            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests are not worth a log line each (actions are logged by the console)

            def do_GET(self) -> None:
                self._serve(b"")

            def do_HEAD(self) -> None:
                self._serve(b"", head=True)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._send(text(413, "request too large"))
                    return
                self._serve(self.rfile.read(length))

            def _serve(self, body: bytes, head: bool = False) -> None:
                path, _, query = self.path.partition("?")
                request = Request(self.command if not head else "GET", path, parse_qs(query),
                                  {k.lower(): v for k, v in self.headers.items()}, body, self.client_address[0],
                                  secure)
                try:
                    answer = handle(request)
                except Exception as exc:  # else socketserver prints a traceback to stderr, outside the log format
                    answer = text(500, type(exc).__name__)
                with contextlib.suppress(OSError):
                    self._send(answer, head)

            def _send(self, answer: Response, head: bool = False) -> None:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.end_headers()
                if not head:
                    self.wfile.write(answer.body)

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (_Server,), {"address_family": family, "tls": tls})
        self.server = server_class((host, port), Handler)
        # A short poll interval: stop() (at every shutdown) waits up to one interval.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():  # shutdown() waits for serve_forever, which never ran otherwise
            self.server.shutdown()
        self.server.server_close()
