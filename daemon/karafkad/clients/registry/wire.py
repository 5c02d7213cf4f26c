"""The Confluent wire format: a zero byte, the writer schema's id (4 bytes, big-endian), then the record.

What every producer using a Schema Registry serializer writes (Confluent's
Java, Go, .NET and Python clients, Debezium, Kafka Connect). A Protobuf
record has its message indexes between the id and the message: which
message of the schema's .proto file it is ([0]: the first top-level one,
written as one zero byte; [1, 0]: the first message nested in the second),
as a count and the indexes, each a zigzag varint.
"""

from __future__ import annotations

from karafkad.errors import DecodeError

MAGIC = 0
"""The first byte of every framed record (the format's version)."""

HEADER_BYTES = 5
"""The magic byte and the schema id."""

MAX_INDEXES = 64
"""Message indexes read at most: deeper nesting than this is no real schema's (and a corrupt count must not
make the reader loop over a gigabyte)."""


def schema_id(value: bytes) -> int:
    """The writer schema's id of a framed record; DecodeError (the reason) when it is not framed."""
    if len(value) < HEADER_BYTES:
        raise DecodeError(f"not in the Confluent wire format: {len(value)} bytes, fewer than the {HEADER_BYTES} "
                          "of its header (a zero byte and a 4-byte schema id)")
    first = value[0]
    if first != MAGIC:
        hint = " (plain JSON?)" if first in b"{[" else ""
        raise DecodeError(f"not in the Confluent wire format: the first byte is 0x{first:02x}, not 0{hint}")
    return int.from_bytes(value[1:HEADER_BYTES], "big")


def peek_schema_id(value: bytes | None) -> int | None:
    """The schema id of a value that looks framed, None otherwise (what to fetch before deciding a batch)."""
    if value is None or len(value) < HEADER_BYTES or value[0] != MAGIC:
        return None
    return int.from_bytes(value[1:HEADER_BYTES], "big")


def frame(schema_id: int, record: bytes, indexes: list[int] | None = None) -> bytes:
    """A record framed for its schema id (and, for Protobuf, its message indexes)."""
    head = bytes((MAGIC,)) + schema_id.to_bytes(4, "big")
    if indexes is None:
        return head + record
    return head + encode_indexes(indexes) + record


def encode_indexes(indexes: list[int]) -> bytes:
    if indexes == [0]:
        return b"\x00"  # the common case, one byte (Confluent's serializers write it so)
    return b"".join(_zigzag_varint(n) for n in (len(indexes), *indexes))


def decode_indexes(value: bytes, start: int) -> tuple[list[int], int]:
    """The message indexes at `start` of a framed Protobuf record, and where the message begins."""
    count, at = _read_zigzag_varint(value, start)
    if count == 0:
        return [0], at
    if not 0 < count <= MAX_INDEXES:
        raise DecodeError(f"Protobuf message indexes: a count of {count} (corrupt, or not a Protobuf record)")
    indexes = []
    for _ in range(count):
        index, at = _read_zigzag_varint(value, at)
        if index < 0:
            raise DecodeError(f"Protobuf message indexes: a negative index {index}")
        indexes.append(index)
    return indexes, at


def _zigzag_varint(number: int) -> bytes:
    n = (number << 1) ^ (number >> 63)
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_zigzag_varint(value: bytes, at: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if at >= len(value):
            raise DecodeError("Protobuf message indexes: the record ends inside them (truncated?)")
        byte = value[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 63:
            raise DecodeError("Protobuf message indexes: a varint longer than 64 bits")
    return (result >> 1) ^ -(result & 1), at
