"""web/server.py: the HTTP plumbing under the console: requests handed over whole, answers sent as they are.

What each path answers is the console's (test_app.py); TLS is proven against
a real certificate in tests/integration/test_console.py.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from karafkad.web.app import MAX_BODY, Request, Response
from karafkad.web.server import HealthServer


class Recorder:
    """A console that records each request and answers what it is told."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.answer = Response(200, b"fine\n", "text/plain; charset=utf-8", [("X-Test", "1")])
        self.failure: Exception | None = None

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        return self.answer


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(recorder: Recorder) -> Iterator[HealthServer]:
    server = HealthServer("127.0.0.1", 0, recorder)
    server.start()
    yield server
    server.stop()


def call(server: HealthServer, path: str, data: bytes | None = None, method: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=data, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - http://127.0.0.1 only
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class TestHealthServer:
    def test_a_get_is_handed_over_with_its_query_and_headers(self, server: HealthServer,
                                                             recorder: Recorder) -> None:
        """Path and query apart, header names in lower case, the peer's address, not secure (no TLS)."""
        status, headers, body = call(server, "/explorer?topic=a&topic=b&x=1", headers={"X-Thing": "yes"})
        assert (status, body, headers["X-Test"]) == (200, b"fine\n", "1")
        request = recorder.requests[0]
        assert (request.method, request.path) == ("GET", "/explorer")
        assert request.query == {"topic": ["a", "b"], "x": ["1"]}
        assert request.headers["x-thing"] == "yes"
        assert (request.client, request.secure) == ("127.0.0.1", False)

    def test_a_post_brings_its_body(self, server: HealthServer, recorder: Recorder) -> None:
        """A POST reaches the console with its body, read as a form."""
        call(server, "/actions/pause", b"route=a&csrf=x")
        assert (recorder.requests[0].method, recorder.requests[0].form()) == ("POST", {"route": ["a"], "csrf": ["x"]})

    def test_a_body_too_large_is_refused_unread(self, server: HealthServer, recorder: Recorder) -> None:
        """413, and the console never sees it."""
        status, _, _ = call(server, "/actions/redrive", b"x" * (MAX_BODY + 1))
        assert status == 413 and recorder.requests == []

    def test_the_answer_is_sent_as_it_is(self, server: HealthServer, recorder: Recorder) -> None:
        """Status, content type, length and the extra headers (a redirect's Location, a cookie)."""
        recorder.answer = Response(303, b"", "text/plain; charset=utf-8", [("Location", "/held")])
        request = urllib.request.Request(f"http://127.0.0.1:{server.port}/x", method="POST", data=b"")

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as caught:
            opener.open(request, timeout=5)
        assert (caught.value.code, caught.value.headers["Location"]) == (303, "/held")

    def test_head_has_no_body(self, server: HealthServer) -> None:
        """HEAD answers the headers of a GET (its length too), without the body."""
        status, headers, body = call(server, "/ping", method="HEAD")
        assert (status, headers["Content-Length"], body) == (200, "5", b"")

    def test_a_failing_console_is_a_500_not_a_dead_server(self, server: HealthServer, recorder: Recorder) -> None:
        """An exception (say, a snapshot read while a reload changes the groups) answers 500; the next request
        works."""
        recorder.failure = RuntimeError("dictionary changed size during iteration")
        assert call(server, "/status.json")[::2] == (500, b"RuntimeError\n")
        assert call(server, "/status.json")[::2] == (200, b"fine\n")

    def test_stop_frees_the_port(self, recorder: Recorder) -> None:
        """After stop() the port can be bound again (a restart of the HTTP side never finds it taken)."""
        server = HealthServer("127.0.0.1", 0, recorder)
        port = server.port
        server.stop()
        HealthServer("127.0.0.1", port, recorder).stop()

    def test_a_taken_port_raises_oserror(self, server: HealthServer, recorder: Recorder) -> None:
        """Binding a port in use fails at construction, so `start` can refuse with exit 3."""
        with pytest.raises(OSError):
            HealthServer("127.0.0.1", server.port, recorder)
