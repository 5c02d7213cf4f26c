"""Which compression codecs this installation can read: what producers compress with must be consumable.

kafka-python decodes gzip with the standard library and snappy, lz4 and zstd
only with their libraries installed (karafkad's dependencies); it finds them
once, at import. A batch in a codec it cannot decode holds its partition
(see clients/kafka/workarounds/fetch_state.BadBatch), so the daemon says at start, and `karafkad
check` lists, which codecs are available.
"""

from __future__ import annotations

from kafka import codec

CODECS = ("gzip", "snappy", "lz4", "zstd")
"""Every codec Kafka producers compress with."""

_PACKAGES = {"gzip": "the standard library", "snappy": "python-snappy", "lz4": "lz4", "zstd": "zstandard"}
"""The package kafka-python needs for each codec."""


def available() -> dict[str, bool]:
    """codec -> whether kafka-python can decode (and compress) it here."""
    return {"gzip": codec.has_gzip(), "snappy": codec.has_snappy(), "lz4": codec.has_lz4(),
            "zstd": codec.has_zstd()}


def missing() -> list[str]:
    """`lz4 (pip install lz4)` for each codec that cannot be read here."""
    return [f"{name} (pip install {_PACKAGES[name]})" for name, ok in available().items() if not ok]
