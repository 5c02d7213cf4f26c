"""Job payloads are JSON unless a route says `serializer: pickle` (a pickle in Redis runs code when loaded)."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from tables import make_table

from karafkad import defaults
from karafkad.config.settings import JobOptions


class TestSerializer:
    def test_the_default_is_json(self) -> None:
        """Without a `serializer:` the job options say JSON (and defaults.SERIALIZER documents why)."""
        assert JobOptions().serializer == "json" == defaults.SERIALIZER

    def test_a_default_route_writes_json_data(self, tmp_path: Path) -> None:
        """A route with default settings encodes a job's call as JSON: decompressed, it is JSON, not a pickle,
        and no field of the job hash is a pickle either."""
        table = make_table(tmp_path, {"g": {"routes": [{"topic": "t", "handler": "h.handle", "on_error": "skip"}]}})
        template = table.routes[0].template
        data = template.encode([{"n": 1, "note": "é"}])
        assert zlib.decompress(data)[:1] != b"\x80"
        assert json.loads(zlib.decompress(data)) == [template.func_name, None, [{"n": 1, "note": "é"}], {}]
        for name, value in template.fields.items():  # the fields every job of the route shares
            raw = value if isinstance(value, bytes) else str(value).encode()
            assert raw[:1] != b"\x80", f"field {name} is a pickle"

    def test_pickle_only_where_a_route_asks_for_it(self, tmp_path: Path) -> None:
        """`job: {serializer: pickle}` on one route makes that route's jobs pickles; the other stays JSON."""
        table = make_table(tmp_path, {"g": {"routes": [
            {"topic": "t", "handler": "h.handle", "queue": "plain", "on_error": "skip"},
            {"topic": "t", "handler": "h.handle", "queue": "pickled", "on_error": "skip", "name": "pickled",
             "job": {"serializer": "pickle"}}]}})
        plain, pickled = (route.template for route in table.routes)
        assert zlib.decompress(plain.encode([1]))[:1] != b"\x80"
        assert zlib.decompress(pickled.encode([1]))[:1] == b"\x80"
