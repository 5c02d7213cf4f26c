"""pipeline/records.py: the record karafkad makes itself, and header keys that are not UTF-8."""

from __future__ import annotations

from karafkad.pipeline.records import PlainRecord, bad_header_key, printable_key


class TestHeaderKeys:
    def test_a_non_utf8_key_is_found_and_printed_escaped(self) -> None:
        """The pipeline learns which key is bad; dead letters carry it as \\\\xNN text."""
        junk = b"\xff\xfekey".decode("utf-8", "surrogateescape")
        assert bad_header_key([("fine", b"1"), (junk, b"2")]) == "\\xff\\xfekey"
        assert bad_header_key([("ünïcode", b"1")]) is None
        assert printable_key("plain") == "plain"


class TestPlainRecord:
    def test_has_every_field_the_pipeline_reads(self) -> None:
        """Defaults: no key, no headers, timestamp 0; a tombstone is a None value."""
        record = PlainRecord("t", 2, 7, None)
        assert (record.topic, record.partition, record.offset, record.value) == ("t", 2, 7, None)
        assert (record.key, tuple(record.headers), record.timestamp) == (None, (), 0)
