"""Protobuf schemas as registries hold them (.proto text with imports, or a base64 descriptor), messages as dicts."""

from __future__ import annotations

import base64

import pytest
from google.protobuf import descriptor_pb2

from karafkad.clients.registry.api import RegisteredSchema
from karafkad.clients.registry.protobuf import ProtobufSchema
from karafkad.clients.registry.wire import frame
from karafkad.errors import DecodeError

COMMON = """\
syntax = "proto3";
package common;
message Money { int64 units = 1; string currency = 2; }
"""
SHOP = """\
syntax = "proto3";
package shop;
import "common/money.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

message Header { string source = 1; }
message Order {
  message Line { string sku = 1; float price = 2; }
  enum Kind { PLAIN = 0; GIFT = 1; }
  int64 id = 1;
  repeated Line lines = 2;
  map<int32, string> notes = 3;
  oneof pay { string card = 4; string iban = 5; }
  google.protobuf.Timestamp at = 6;
  Kind kind = 7;
  bytes blob = 8;
  common.Money total = 9;
  google.protobuf.Int64Value limit = 10;
  optional string coupon = 11;
}
"""


def shop(schema_id: int = 3) -> ProtobufSchema:
    """SHOP as a Java serializer registers it: .proto text, its import a reference to another subject."""
    return ProtobufSchema(RegisteredSchema(SHOP, "PROTOBUF", schema_id=schema_id),
                          [("common/money.proto", RegisteredSchema(COMMON, "PROTOBUF"))])


class TestText:
    def test_a_message_by_indexes_becomes_a_dict_by_field_name(self) -> None:
        """Order ([1]) with every kind of field: nested and imported messages, a map, a oneof, an enum, bytes,
        well-known types; int64 stays a number, a float its short form."""
        schema = shop()
        order = schema.message((1,))(id=2**40, kind=1, blob=b"\x01", card="4111")
        order.lines.add(sku="a", price=0.1)
        order.notes[7] = "seven"
        order.at.FromSeconds(1_700_000_000)
        order.total.units = 12
        order.limit.value = 5
        assert schema.decode(frame(3, order.SerializeToString(), [1])) == {
            "id": 2**40, "lines": [{"sku": "a", "price": 0.1}], "notes": {"7": "seven"}, "card": "4111",
            "at": "2023-11-14T22:13:20Z", "kind": "GIFT", "blob": "AQ==", "total": {"units": 12, "currency": ""},
            "limit": 5}

    def test_unset_fields_without_presence_have_their_defaults_and_the_others_are_absent(self) -> None:
        """An empty Order: scalars 0/""/the first enum name, repeated [], maps {}; messages, oneof members and
        `optional` fields absent."""
        schema = shop()
        assert schema.decode(frame(3, b"", [1])) == {"id": 0, "lines": [], "notes": {}, "kind": "PLAIN", "blob": ""}

    def test_a_nested_message_is_read_by_its_index_path(self) -> None:
        """[1, 0] is Order.Line."""
        schema = shop()
        line = schema.message((1, 0))(sku="b")
        assert schema.decode(frame(3, line.SerializeToString(), [1, 0])) == {"sku": "b", "price": 0.0}

    def test_indexes_that_name_no_message_are_a_decode_error(self) -> None:
        """[5]: the file has two top-level messages."""
        with pytest.raises(DecodeError, match=r"indexes \[5\] name no message of schema 3 \(level 1 has 2\)"):
            shop().decode(frame(3, b"", [5]))

    def test_bytes_that_are_no_such_message_are_a_decode_error(self) -> None:
        """Garbage after the indexes."""
        with pytest.raises(DecodeError, match=r"does not decode as Protobuf message shop\.Order \(schema 3\)"):
            shop().decode(frame(3, b"\xff\xff\xff", [1]))

    def test_a_source_protoc_refuses_is_a_decode_error_with_protocs_words(self) -> None:
        """A missing semicolon: where and what, as protoc says it."""
        with pytest.raises(DecodeError, match=r'does not compile: .*Expected ";"'):
            ProtobufSchema(RegisteredSchema('syntax = "proto3";\nmessage A { int32 a = 1 }', "PROTOBUF",
                                            schema_id=4))

    def test_an_import_no_reference_provides_is_named(self) -> None:
        """Without its reference, common/money.proto cannot be found."""
        with pytest.raises(DecodeError, match=r"common/money\.proto"):
            ProtobufSchema(RegisteredSchema(SHOP, "PROTOBUF", schema_id=5))


class TestDescriptor:
    def test_a_base64_file_descriptor_is_read_as_it_is(self) -> None:
        """The form confluent-kafka's Python serializer registers: its well-known imports come from the runtime."""
        proto = descriptor_pb2.FileDescriptorProto(name="ev.proto", package="ev", syntax="proto3",
                                                   dependency=["google/protobuf/timestamp.proto"])
        event = proto.message_type.add(name="Event")
        field = descriptor_pb2.FieldDescriptorProto
        event.field.add(name="at", number=1, type=field.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp",
                        label=field.LABEL_OPTIONAL)
        schema = ProtobufSchema(RegisteredSchema(base64.b64encode(proto.SerializeToString()).decode(), "PROTOBUF",
                                                 schema_id=8))
        message = schema.message((0,))()
        message.at.seconds = 60  # the schema's own Timestamp (its pool's), not the runtime's class
        assert schema.decode(frame(8, message.SerializeToString(), [0])) == {"at": "1970-01-01T00:01:00Z"}


class TestEncode:
    def test_a_dict_as_decode_gives_it_round_trips_by_message_name(self) -> None:
        """Encoding Order.Line by its short name writes its indexes; decode gives the same dict."""
        schema = shop()
        value = schema.encode({"sku": "z", "price": 1.5}, "Order.Line")
        assert value[5:8] == b"\x04\x02\x00"
        assert schema.decode(value) == {"sku": "z", "price": 1.5}

    def test_an_unknown_message_name_lists_the_messages(self) -> None:
        """A typo is answered with what there is."""
        with pytest.raises(ValueError, match=r"no message 'Ordr' \(its messages: Header, Order\)"):
            shop().encode({}, "Ordr")

    def test_data_that_does_not_fit_names_the_message(self) -> None:
        """An unknown field is refused."""
        with pytest.raises(ValueError, match=r"does not fit Protobuf message shop\.Header"):
            shop().encode({"nope": 1}, "Header")
