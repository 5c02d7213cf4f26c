"""The Schema Registry's HTTP API as karafkad uses it: a schema by id, a subject's versions, registering one.

Confluent's API, which Confluent Schema Registry, Apicurio Registry (at
`/apis/ccompat/v7`), Redpanda and Karapace all speak. Every request has a
timeout (to connect, and between two reads of the answer) and sends basic
auth up front (Apicurio answers 401 without a challenge, so a client that
waits for one never authenticates). Every failure is a RegistryUnavailable
whose message says where the registry is and what went wrong in words,
without the password, as clients/kafka/failures.py does for Kafka. The one
answer about a record rather than about the registry is Confluent's "no such
schema" (error 40403, a 404): the id is not the registry's.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from karafkad import defaults
from karafkad.clients.tls import causes
from karafkad.config.secrets import redact
from karafkad.config.settings import RegistrySettings
from karafkad.errors import RegistryUnavailable

SchemaType = Literal["AVRO", "PROTOBUF", "JSON"]
"""What kind of schema the registry holds (Confluent's `schemaType`; absent means AVRO)."""

SCHEMA_TYPES: tuple[SchemaType, ...] = ("AVRO", "PROTOBUF", "JSON")

FILE_TYPES: dict[str, SchemaType] = {".avsc": "AVRO", ".proto": "PROTOBUF", ".json": "JSON"}
"""A schema file's type, by its suffix (what `karafkad produce --register FILE` registers it as)."""

NOT_FOUND = {40401: "subject", 40402: "version", 40403: "schema"}
"""Confluent's error codes (in a 404's body) for what the registry does not have. A 404 without one of
these is not an answer about a schema (a wrong url path answers 404 too), so it is a registry problem,
never taken for an unknown schema id."""

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@dataclass(frozen=True)
class Reference:
    """A schema another one uses: `name` is how the referring schema names it (a Protobuf import path, an Avro
    type's full name), found under `subject` at `version`."""

    name: str
    subject: str
    version: int


@dataclass(frozen=True)
class RegisteredSchema:
    """A schema as the registry holds it."""

    schema: str
    """Its text: Avro's JSON, a .proto file (or a base64 FileDescriptorProto, as some serializers register it),
    a JSON Schema document."""
    schema_type: SchemaType = "AVRO"
    references: tuple[Reference, ...] = ()
    schema_id: int | None = None
    subject: str | None = None
    """With `version`: where it was found, when asked for by subject."""
    version: int | None = None

    @classmethod
    def from_file(cls, path: Path) -> RegisteredSchema:
        """A schema file to register: `.avsc` (Avro), `.proto` (Protobuf) or `.json` (JSON Schema); ValueError
        when it is none of them or cannot be read."""
        kind = FILE_TYPES.get(path.suffix)
        if kind is None:
            raise ValueError(f"{path}: a schema file is .avsc (Avro), .proto (Protobuf) or .json (JSON Schema)")
        try:
            return cls(path.read_text("utf-8"), kind)
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: cannot read the schema: {exc}") from None


class RegistryClient:
    """Asks one Schema Registry; thread-safe (each request is its own connection)."""

    def __init__(self, settings: RegistrySettings) -> None:
        self.settings = settings
        parts = urllib.parse.urlsplit(settings.url)
        # A user and password written inside the url are basic auth too (and never part of a request's url).
        self.base = urllib.parse.urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path.rstrip("/"),
                                             "", ""))
        username = settings.username or (urllib.parse.unquote(parts.username) if parts.username else None)
        password = (settings.password.reveal() if settings.password is not None
                    else urllib.parse.unquote(parts.password) if parts.password else "")
        self.username = username
        self._auth = ("Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
                      if username else None)
        self._https = parts.scheme == "https"
        self._context: ssl.SSLContext | None = None
        """Made by the first request (a CA file that cannot be read is then that request's failure)."""

    def describe(self) -> str:
        return self.settings.describe()

    # --- what karafkad asks ---------------------------------------------------

    def schema(self, schema_id: int) -> RegisteredSchema | None:
        """The schema with this id, or None when the registry has none (Confluent's 40403)."""
        found = self._get(f"/schemas/ids/{schema_id}", missing=("schema",))
        if found is None:
            return None
        return _registered(found, schema_id=schema_id)

    def version(self, subject: str, version: int | Literal["latest"] = "latest") -> RegisteredSchema | None:
        """A subject's schema at `version` (with its id), or None when the subject or version does not exist."""
        found = self._get(f"/subjects/{_quote(subject)}/versions/{version}", missing=("subject", "version"))
        if found is None:
            return None
        return _registered(found, schema_id=int(found["id"]), subject=str(found.get("subject", subject)),
                           version=int(found["version"]))

    def subjects(self) -> list[str]:
        found = self._get("/subjects")
        return [str(subject) for subject in found] if isinstance(found, list) else []

    def types(self) -> list[str]:
        """The schema types the registry takes (a cheap request that proves the url, credentials and TLS)."""
        found = self._get("/schemas/types")
        return [str(kind) for kind in found] if isinstance(found, list) else []

    def register(self, subject: str, schema: RegisteredSchema) -> int:
        """Register `schema` under `subject` (the registry gives an identical schema its existing id); its id."""
        body: dict[str, Any] = {"schema": schema.schema}
        if schema.schema_type != "AVRO":
            body["schemaType"] = schema.schema_type
        if schema.references:
            body["references"] = [{"name": r.name, "subject": r.subject, "version": r.version}
                                  for r in schema.references]
        answer = self._request("POST", f"/subjects/{_quote(subject)}/versions", body)
        if not isinstance(answer, dict) or "id" not in answer:
            raise self._unavailable(f"answered the registration of {subject!r} without an id: {str(answer)[:200]}")
        return int(answer["id"])

    # --- HTTP -------------------------------------------------------------------

    def _get(self, path: str, missing: tuple[str, ...] = ()) -> Any:
        return self._request("GET", path, None, missing)

    def _request(self, method: str, path: str, body: Any, missing: tuple[str, ...] = ()) -> Any:
        """The JSON answer; None for a 404 saying the registry has no such `missing` thing; RegistryUnavailable for
        any other failure."""
        headers = {"Accept": f"{_CONTENT_TYPE}, application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = _CONTENT_TYPE
        if self._auth is not None:
            headers["Authorization"] = self._auth
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)  # noqa: S310 - http(s) only: the url's scheme is checked by the routes file's schema
        try:
            if self._https and self._context is None:
                self._context = _tls_context(self.settings)
            with urllib.request.urlopen(request, timeout=self.settings.timeout,  # noqa: S310 - as above
                                        context=self._context) as response:
                raw = response.read(defaults.REGISTRY_MAX_RESPONSE_BYTES)
        except urllib.error.HTTPError as exc:
            answer = _json_or_none(_read_error_body(exc))
            code = answer.get("error_code") if isinstance(answer, dict) else None
            if exc.code == 404 and isinstance(code, int) and NOT_FOUND.get(code, "") in missing:
                return None
            raise self._unavailable(self._http_failure(exc.code, method, path, answer)) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            raise self._unavailable(self._connection_failure(exc)) from None
        answer = _json_or_none(raw)
        if answer is None:
            raise self._unavailable(f"answered {method} {path} with something that is not JSON: is the url the "
                                    "registry's API? (Apicurio Registry's is http://HOST:PORT/apis/ccompat/v7)")
        return answer

    def _unavailable(self, words: str) -> RegistryUnavailable:
        return RegistryUnavailable(redact(f"schema registry {self.describe()}: {words}"))

    def _http_failure(self, status: int, method: str, path: str, answer: Any) -> str:
        said = answer.get("message") if isinstance(answer, dict) else None
        said_text = f": {str(said)[:200]}" if said else ""
        if status == 401:
            if self._auth is None:
                return ("asks for credentials (HTTP 401): set schema_registry.username and password"
                        + said_text)
            return (f"refused the credentials of user {self.username!r} (HTTP 401): check schema_registry.username "
                    f"and password{said_text}")
        if status == 403:
            who = f"user {self.username!r}" if self.username else "an anonymous client"
            return f"{who} may not {method} {path} (HTTP 403){said_text}"
        if status == 404:
            return (f"has no {path} (HTTP 404{said_text}): is the url the registry's API? (Apicurio Registry's is "
                    "http://HOST:PORT/apis/ccompat/v7)")
        return f"answered HTTP {status} to {method} {path}{said_text}"

    def _connection_failure(self, exc: BaseException) -> str:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        text = f"{type(reason).__name__}: {reason}"
        settings = self.settings
        words = causes.tls_cause(text, causes.TlsFiles("the schema registry", settings.ssl_cafile,
                                                       settings.ssl_certfile, settings.ssl_keyfile))
        if words is not None and (self._https or isinstance(reason, ssl.SSLError)):
            return f"TLS failed: {words}"
        if isinstance(reason, ConnectionRefusedError):
            return "connection refused (is the registry running there?)"
        if isinstance(reason, TimeoutError | socket.timeout):
            return f"no answer within {settings.timeout:g} s (schema_registry.timeout)"
        if isinstance(reason, socket.gaierror):
            return f"cannot resolve its host name ({reason})"
        if isinstance(reason, http.client.RemoteDisconnected | ConnectionResetError):
            port = "HTTPS" if self._https else "HTTP"
            return f"closed the connection without an answer ({reason}); is this its {port} port?"
        return text


def _registered(found: Any, **where: Any) -> RegisteredSchema:
    if not isinstance(found, dict) or not isinstance(found.get("schema"), str):
        raise RegistryUnavailable(f"the schema registry answered without a schema: {str(found)[:200]}")
    kind = found.get("schemaType", "AVRO")
    references = tuple(Reference(str(r["name"]), str(r["subject"]), int(r["version"]))
                       for r in found.get("references") or ())
    return RegisteredSchema(found["schema"], kind if kind in SCHEMA_TYPES else "AVRO", references, **where)


def _tls_context(settings: RegistrySettings) -> ssl.SSLContext:
    """Verification on (the system's CAs, or ssl_cafile), with a client certificate when one is configured."""
    context = ssl.create_default_context(cafile=settings.ssl_cafile)
    context.check_hostname = settings.ssl_check_hostname
    if settings.ssl_certfile:
        password = settings.ssl_password.reveal() if settings.ssl_password is not None else None
        context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile, password)
    return context


def _quote(subject: str) -> str:
    return urllib.parse.quote(subject, safe="")


def _read_error_body(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read(64 * 1024)
    except (OSError, http.client.HTTPException):
        return b""


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
