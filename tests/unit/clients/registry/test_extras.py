"""Without the schema-registry extra, a registry decode mode says exactly what to install."""

from __future__ import annotations

import importlib.util

import pytest

from karafkad.clients.registry import extras


class TestMissing:
    def test_names_the_missing_library_and_the_command(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """fastavro absent: `decode: avro` names it and the extra."""
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "fastavro" else real(name))
        assert extras.missing("avro") == ("decode: avro needs fastavro, not installed here: "
                                          "pip install 'karafkad[schema-registry]'")

    def test_nothing_is_missing_when_installed_or_not_needed(self) -> None:
        """The dev install has the extra; JSON Schema needs only the base."""
        assert [extras.missing(mode) for mode in ("avro", "protobuf", "json_schema")] == [None, None, None]
