"""clients/kafka/codecs.py: every codec producers use is readable with karafkad's dependencies installed."""

from __future__ import annotations

from karafkad.clients.kafka import codecs


class TestAvailable:
    def test_every_codec_is_available_out_of_the_box(self) -> None:
        """gzip, snappy, lz4 and zstd: python-snappy, lz4 and zstandard are dependencies."""
        assert codecs.available() == dict.fromkeys(codecs.CODECS, True)
        assert codecs.missing() == []
