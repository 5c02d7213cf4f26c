"""The registry's HTTP API: what an answer means, and every failure in words without the password."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from karafkad.clients.registry.api import Reference, RegisteredSchema, RegistryClient
from karafkad.config.secrets import Secret
from karafkad.config.settings import RegistrySettings
from karafkad.errors import RegistryUnavailable

ANSWERS: dict[str, tuple[int, Any]] = {
    "/api/schemas/ids/1": (200, {"schema": '{"type": "string"}'}),
    "/api/schemas/ids/2": (200, {"schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF",
                                 "references": [{"name": "a.proto", "subject": "a", "version": 3}]}),
    "/api/schemas/ids/404": (404, {"error_code": 40403, "message": "Schema 404 not found."}),
    "/api/subjects/orders-value/versions/latest": (200, {"subject": "orders-value", "version": 2, "id": 1,
                                                         "schema": '{"type": "string"}'}),
    "/api/subjects/nope/versions/latest": (404, {"error_code": 40401, "message": "Subject 'nope' not found."}),
    "/api/subjects/orders-value/versions": (200, {"id": 11}),
    "/api/schemas/types": (200, ["AVRO"]),
    "/api/broken": (500, {"error_code": 50001, "message": "database is down"}),
}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[tuple[str, str, str | None, bytes]]]]:
    """A registry stand-in on a free port: fixed answers by path, every request kept (method, path, auth, body)."""
    seen: list[tuple[str, str, str | None, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.command, self.path, self.headers.get("Authorization"), body))
            if self.headers.get("Authorization") == "Basic a2FyYWZrYWQ6d3Jvbmc=":  # karafkad:wrong
                status, answer = 401, {"error_code": 401, "message": "Unauthorized"}
            elif self.path == "/api/text":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"<html>not an API</html>")
                return
            else:
                status, answer = ANSWERS.get(self.path, (404, {"message": "RESTEASY003210: Could not find resource"}))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(answer).encode())

        do_GET = do_POST = answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()


def client(base: str, path: str = "/api", **settings: Any) -> RegistryClient:
    return RegistryClient(RegistrySettings(base + path, **settings))


class TestAnswers:
    def test_a_schema_by_id_with_its_type_and_references(self, server: Any) -> None:
        """schemaType and references are read; an absent type is Avro."""
        base, _ = server
        assert client(base).schema(1) == RegisteredSchema('{"type": "string"}', "AVRO", schema_id=1)
        assert client(base).schema(2) == RegisteredSchema('syntax = "proto3";', "PROTOBUF",
                                                          (Reference("a.proto", "a", 3),), schema_id=2)

    def test_an_unknown_id_is_none_not_a_failure(self, server: Any) -> None:
        """Confluent's 40403 is an answer about the id."""
        base, _ = server
        assert client(base).schema(404) is None

    def test_a_404_without_the_registrys_code_is_a_wrong_url(self, server: Any) -> None:
        """A url missing Apicurio's /apis/ccompat/v7 answers 404 to everything: never taken for unknown ids."""
        base, _ = server
        with pytest.raises(RegistryUnavailable, match=r"has no /schemas/ids/1 \(HTTP 404.*apis/ccompat/v7"):
            client(base, "/elsewhere").schema(1)

    def test_a_subject_version_and_registering(self, server: Any) -> None:
        """`latest` gives the id and version; a registration posts the schema and gives the new id."""
        base, seen = server
        found = client(base).version("orders-value")
        assert (found.schema_id, found.version, found.subject) == (1, 2, "orders-value") if found else False
        assert client(base).version("nope") is None
        assert client(base).register("orders-value", RegisteredSchema("x", "JSON")) == 11
        assert json.loads(seen[-1][3]) == {"schema": "x", "schemaType": "JSON"}


class TestFailures:
    def test_refused_credentials_name_the_user_and_never_the_password(self, server: Any) -> None:
        """401 with credentials sent up front: which user, and what to check."""
        base, seen = server
        with pytest.raises(RegistryUnavailable) as failure:
            client(base, username="karafkad", password=Secret("wrong")).schema(1)
        assert "refused the credentials of user 'karafkad' (HTTP 401)" in str(failure.value)
        assert "wrong" not in str(failure.value)
        assert seen[-1][2] == "Basic a2FyYWZrYWQ6d3Jvbmc="  # sent without waiting for a challenge

    def test_a_server_error_is_quoted(self, server: Any) -> None:
        """An HTTP 500 is an outage quoting the registry's own message and the request."""
        base, _ = server
        with pytest.raises(RegistryUnavailable, match="answered HTTP 500 to GET /broken: database is down"):
            client(base)._get("/broken")

    def test_an_answer_that_is_not_json_suggests_the_api_url(self, server: Any) -> None:
        """A page that is not JSON (a url without the API's path) says so and suggests the cause."""
        base, _ = server
        with pytest.raises(RegistryUnavailable, match="not JSON: is the url the registry's API"):
            client(base)._get("/text")

    def test_a_closed_port_is_connection_refused_with_the_url(self) -> None:
        """Nobody listens: the registry is down, said with where it was looked for."""
        with pytest.raises(RegistryUnavailable,
                           match=r"schema registry http://127\.0\.0\.1:9/api: connection refused"):
            client("http://127.0.0.1:9").schema(1)

    def test_a_password_in_the_url_is_basic_auth_and_masked(self, server: Any) -> None:
        """user:password@ in the url is sent as basic auth, never as part of the request, and masked in words."""
        base, seen = server
        host = base.removeprefix("http://")
        with pytest.raises(RegistryUnavailable) as failure:
            client(f"http://karafkad:wrong@{host}").schema(1)
        assert seen[-1][1] == "/api/schemas/ids/1" and seen[-1][2] == "Basic a2FyYWZrYWQ6d3Jvbmc="
        assert ":wrong@" not in str(failure.value)

    def test_a_missing_ca_file_is_named(self, tmp_path: Any) -> None:
        """The CA file is read at the first request; its absence is that request's failure, in words."""
        missing = tmp_path / "ca.pem"
        with pytest.raises(RegistryUnavailable, match=f"ssl_cafile {missing} does not exist"):
            client("https://127.0.0.1:9", ssl_cafile=str(missing)).schema(1)
