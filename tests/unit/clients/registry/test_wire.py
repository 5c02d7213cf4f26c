"""The Confluent wire format: the header read and written, and Protobuf's message indexes as Confluent writes them."""

from __future__ import annotations

import pytest

from karafkad.clients.registry.wire import decode_indexes, encode_indexes, frame, peek_schema_id, schema_id
from karafkad.errors import DecodeError


class TestSchemaId:
    def test_reads_the_big_endian_id_after_the_zero_byte(self) -> None:
        """Bytes 1-4 are the schema id, big-endian."""
        assert schema_id(b"\x00\x00\x01\x00\x02rest") == 65538

    def test_a_wrong_first_byte_is_named_with_a_hint_for_json(self) -> None:
        """A value starting with `{` is plain JSON, and the reason says which byte it found."""
        with pytest.raises(DecodeError, match=r"the first byte is 0x7b, not 0 \(plain JSON\?\)"):
            schema_id(b'{"n": 1}')

    def test_a_value_shorter_than_the_header_is_refused(self) -> None:
        """Fewer than 5 bytes cannot hold the header."""
        with pytest.raises(DecodeError, match="3 bytes, fewer than the 5"):
            schema_id(b"\x00\x00\x01")

    def test_peek_says_none_for_what_is_not_framed(self) -> None:
        """The pre-pass before a batch finds ids only in values that look framed."""
        assert [peek_schema_id(v) for v in (None, b"{}", b"\x00\x00", b"\x00\x00\x00\x00\x07x")] == [
            None, None, None, 7]


class TestIndexes:
    @pytest.mark.parametrize("indexes", [[0], [1], [1, 0], [2, 3, 1], [300]])
    def test_written_indexes_read_back(self, indexes: list[int]) -> None:
        """Every message path survives a write and a read, the message starting right after it."""
        value = frame(9, b"MSG", indexes)
        assert decode_indexes(value, 5) == (indexes, len(value) - 3)

    def test_the_first_message_is_one_zero_byte(self) -> None:
        """[0] is written as a single 0 (Confluent's serializers do so); [1, 0] as count 2, then 1 and 0, zigzag."""
        assert encode_indexes([0]) == b"\x00"
        assert encode_indexes([1, 0]) == b"\x04\x02\x00"

    def test_indexes_cut_short_are_a_decode_error(self) -> None:
        """A record ending inside its indexes is truncated, not a crash."""
        with pytest.raises(DecodeError, match="ends inside them"):
            decode_indexes(b"\x00\x00\x00\x00\x01\x04\x02", 5)

    def test_an_absurd_count_is_refused(self) -> None:
        """A corrupt count does not make the reader loop."""
        with pytest.raises(DecodeError, match="a count of 1000"):
            decode_indexes(frame(1, b"", None) + b"\xd0\x0f", 5)
