"""A message's parts as kafka-python takes them: bytes, header pairs, key text, JSON."""

from __future__ import annotations

import pytest

from karafkad.clients.kafka.producing import as_bytes, encode_json, header_pairs, key_text


class TestParts:
    def test_text_is_sent_as_utf8_and_bytes_as_they_are(self) -> None:
        """A value or key given as text is sent as UTF-8; bytes and None go through as they are."""
        assert as_bytes("zoë") == "zoë".encode()
        assert as_bytes(b"\xff") == b"\xff"
        assert as_bytes(None) is None

    def test_anything_else_is_a_type_error_pointing_at_send_json(self) -> None:
        """A mapping given to send() is refused with the type it was, pointing at send_json."""
        with pytest.raises(TypeError, match=r"not dict .*send_json"):
            as_bytes({"n": 1})  # type: ignore[arg-type]

    def test_headers_from_a_mapping_or_repeated_pairs(self) -> None:
        """A mapping or (name, value) pairs, a name possibly repeated; values as bytes; none is an empty list."""
        assert header_pairs({"a": "1", "b": b"2"}) == [("a", b"1"), ("b", b"2")]
        assert header_pairs([("a", "1"), ("a", "2")]) == [("a", b"1"), ("a", b"2")]
        assert header_pairs(None) == []

    @pytest.mark.parametrize(("headers", "says"), [
        ([(1, "v")], "header name must be text"),
        ({"h": None}, "header 'h' has no value"),
    ])
    def test_a_header_kafka_cannot_carry_is_refused(self, headers: object, says: str) -> None:
        """A name that is not text, or a header without a value, is a TypeError naming it."""
        with pytest.raises(TypeError, match=says):
            header_pairs(headers)  # type: ignore[arg-type]

    def test_a_key_is_named_as_text_even_when_it_is_not_utf8(self) -> None:
        """For error messages: a key that is not UTF-8 shows its bytes escaped."""
        assert key_text(b"k\xff") == "k\\xff"
        assert key_text("k") == "k"
        assert key_text(None) is None


class TestEncodeJson:
    def test_compact_utf8_with_big_integers_exact(self) -> None:
        """No spaces, non-ASCII as UTF-8, integers beyond 64 bits written exactly."""
        assert encode_json({"n": 2**70, "s": "é"}) == '{"n":1180591620717411303424,"s":"é"}'.encode()

    def test_nan_is_refused(self) -> None:
        """NaN is not JSON: refused instead of written as a bare NaN no other reader takes."""
        with pytest.raises(ValueError):
            encode_json(float("nan"))
