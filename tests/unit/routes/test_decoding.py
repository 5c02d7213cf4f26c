"""Message values to params: JSON, text or raw bytes, with exact integers and clear refusals."""

from __future__ import annotations

import base64

import pytest

from karafkad.routes.decoding import (
    DecodeError,
    decode_json,
    decode_raw_base64,
    decode_raw_bytes,
    decode_text,
    decoder_for,
    text_or_none,
)


class TestDecodeJson:
    def test_objects_lists_and_scalars(self) -> None:
        """Any JSON value decodes, not only objects."""
        assert decode_json(b'{"a": [1, 2.5, "x", true, null]}') == {"a": [1, 2.5, "x", True, None]}
        assert decode_json(b'"text"') == "text"
        assert decode_json(b"3") == 3

    def test_large_integers_stay_exact(self) -> None:
        """Integers beyond 64 bits keep every digit (orjson alone would make them floats)."""
        big = 123456789012345678901234567890
        assert decode_json(f'{{"id": {big}}}'.encode()) == {"id": big}
        assert decode_json(b"18446744073709551615") == 2 ** 64 - 1

    def test_long_decimal_fractions(self) -> None:
        """A long fraction goes the exact path and stays a float."""
        assert decode_json(b"0.1234567890123456789") == pytest.approx(0.1234567890123456789)

    @pytest.mark.parametrize("raw", [b"1e400", b'{"n": 1e400, "id": 12345678901234567890}'])
    def test_infinite_numbers_are_refused(self, raw: bytes) -> None:
        """A number too large for a double is not silently infinity."""
        with pytest.raises(DecodeError):
            decode_json(raw)

    @pytest.mark.parametrize("raw", [b"NaN", b"[Infinity]", b'{"id": 12345678901234567890, "x": NaN}'])
    def test_non_json_constants_are_refused(self, raw: bytes) -> None:
        """NaN and Infinity are not JSON, on either decoding path."""
        with pytest.raises(DecodeError):
            decode_json(raw)

    @pytest.mark.parametrize("raw", [b"", b"{", b"{'a': 1}", b"[1,]", b"\xff\xfe", b"12345678901234567890 x"])
    def test_invalid_json(self, raw: bytes) -> None:
        """Anything that is not JSON is a DecodeError whose message starts with the reason."""
        with pytest.raises(DecodeError, match="invalid JSON"):
            decode_json(raw)

    def test_non_utf8_on_the_exact_path(self) -> None:
        """Bad UTF-8 beside a long number names the byte."""
        with pytest.raises(DecodeError, match="not UTF-8 at byte"):
            decode_json(b'[12345678901234567890, "\xff"]')

    def test_very_deep_nesting(self) -> None:
        """Pathological nesting is refused on both paths, never a crash."""
        with pytest.raises(DecodeError):
            decode_json(b"[" * 100_000 + b"]" * 100_000)
        with pytest.raises(DecodeError):
            decode_json(b"[" * 100_000 + b"12345678901234567890" + b"]" * 100_000)

    def test_integer_with_too_many_digits(self) -> None:
        """Python's 4300-digit conversion limit is a DecodeError, not a ValueError escaping."""
        with pytest.raises(DecodeError):
            decode_json(b"1" * 5000)


class TestDecodeText:
    def test_utf8_text(self) -> None:
        """Text is decoded as UTF-8, untouched otherwise."""
        assert decode_text("héllo\n".encode()) == "héllo\n"

    def test_not_utf8(self) -> None:
        """Bytes that are not UTF-8 name their position."""
        with pytest.raises(DecodeError, match="not UTF-8 text at byte 1"):
            decode_text(b"a\xff")


class TestDecodeRaw:
    def test_base64_for_json_jobs(self) -> None:
        """With the JSON serializer, raw bytes travel as base64 text."""
        assert decode_raw_base64(b"\x00\xff") == "AP8="
        assert base64.b64decode(decode_raw_base64(b"\x00\xff")) == b"\x00\xff"

    def test_bytes_for_pickle_jobs(self) -> None:
        """With pickle, raw bytes are passed as they are."""
        assert decode_raw_bytes(b"\x00\xff") == b"\x00\xff"


class TestDecoderFor:
    @pytest.mark.parametrize(("mode", "serializer", "decoder"), [
        ("json", "json", decode_json), ("json", "pickle", decode_json),
        ("text", "json", decode_text), ("text", "pickle", decode_text),
        ("raw", "json", decode_raw_base64), ("raw", "pickle", decode_raw_bytes),
    ])
    def test_decoder_by_route(self, mode: str, serializer: str, decoder: object) -> None:
        """The route's decode mode and job serializer pick the decoder."""
        assert decoder_for(mode, serializer) is decoder


class TestTextOrNone:
    def test_keys_and_headers_for_filters_and_handlers(self) -> None:
        """None stays None; bytes become text, undecodable bytes escaped as \\xNN."""
        assert text_or_none(None) is None
        assert text_or_none(b"order-1") == "order-1"
        assert text_or_none(b"a\xffb") == "a\\xffb"
