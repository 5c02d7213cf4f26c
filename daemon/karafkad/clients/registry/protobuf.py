"""Protobuf records in and out: a registered schema compiled once into descriptors, messages as dicts by field name.

A registry holds a Protobuf schema in one of two forms. Serializers that
register the .proto source (Confluent's Java and Go ones; a schema posted as
text) get text back, with its imports as references to other subjects;
confluent-kafka's Python serializer registers a base64 FileDescriptorProto.
The first is compiled by protoc itself, in-process (grpcio-tools): every
construct the language has (oneofs, maps, nested and imported types,
options, proto2 and editions) is read by the compiler that defines it, about
10 ms once per schema id; a pure-Python parser would be smaller but reads a
subset. The second is read by protobuf's own runtime. Either way the
messages are decoded by protobuf's C runtime (upb).

A message becomes a dict by field name (the .proto's names), every field
present: a field without presence (a proto3 scalar, a repeated field, a map)
with its default when unset, as the runtime would read it; a field with
presence (a message, a oneof member, `optional`) only when set. int64 values
stay numbers, enums their names (an unknown number stays a number), bytes
base64 text, map keys text, floats (32-bit) their shortest decimal form, and
the well-known types their JSON forms (a Timestamp in RFC 3339, a wrapper its
value). `encode` reads that form back (protobuf's ParseDict).
"""

from __future__ import annotations

import ast
import base64
import binascii
import importlib
import os
import struct
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from karafkad.clients.registry import extras
from karafkad.clients.registry.api import RegisteredSchema
from karafkad.clients.registry.wire import HEADER_BYTES, decode_indexes, frame
from karafkad.errors import DecodeError

WELL_KNOWN = "google/protobuf/"
"""Imports the protobuf runtime and protoc both carry; no registry reference names them."""

WRAPPERS = frozenset(f"google.protobuf.{name}Value" for name in
                     ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes"))

_protoc_lock = threading.Lock()
"""protoc's in-process compiler is one per process."""

Converter = Callable[[Any], Any]


class ProtobufSchema:
    """One registered Protobuf schema, compiled: decodes framed messages of its file, encodes data into them."""

    kind = "PROTOBUF"

    def __init__(self, registered: RegisteredSchema, references: Sequence[tuple[str, RegisteredSchema]] = ()) -> None:
        extras.load("google.protobuf", "protobuf")
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

        self.schema_id = registered.schema_id or 0
        files = _file_descriptors(registered, references, self.schema_id)
        self.pool = descriptor_pool.DescriptorPool()
        for proto in _dependency_order(files, self.schema_id):
            try:
                self.pool.Add(proto)
            except Exception as exc:  # the runtime's own errors (a type it cannot resolve, a name used twice)
                raise DecodeError(f"Protobuf schema {self.schema_id} ({proto.name}): {exc}") from None
        self.file: descriptor_pb2.FileDescriptorProto = files[-1]
        if not self.file.message_type:
            raise DecodeError(f"Protobuf schema {self.schema_id} defines no message")
        self._factory = message_factory.GetMessageClass
        self._messages: dict[tuple[int, ...], Any] = {}
        self._plans: dict[Any, tuple[list[tuple[str, Any, bool]], dict[Any, Converter | None]]] = {}

    def decode(self, value: bytes) -> Any:
        """The message of a framed value (its header already checked) as a dict; DecodeError says why not."""
        indexes, start = decode_indexes(value, HEADER_BYTES)
        message_class = self.message(tuple(indexes))
        try:
            message = message_class.FromString(value[start:])
        except Exception as exc:  # protobuf's DecodeError, or the runtime's own for a malformed message
            raise DecodeError(f"does not decode as Protobuf message {message_class.DESCRIPTOR.full_name} "
                              f"(schema {self.schema_id}): {exc}") from None
        return self.to_dict(message)

    def message(self, indexes: tuple[int, ...]) -> Any:
        """The message class the indexes name; DecodeError when they name none."""
        found = self._messages.get(indexes)
        if found is None:
            descriptor = self.pool.FindMessageTypeByName(self._full_name(indexes))
            found = self._messages[indexes] = self._factory(descriptor)
        return found

    def encode(self, data: Any, message: str | None = None) -> bytes:
        """`data` (a dict as `decode` gives it) as a framed message of `message` (a full or short name; default:
        the file's first); ValueError says what does not fit."""
        from google.protobuf import json_format

        indexes = self.indexes_of(message) if message else [0]
        message_class = self.message(tuple(indexes))
        try:
            parsed = json_format.ParseDict(data, message_class())
        except json_format.ParseError as exc:
            raise ValueError(f"does not fit Protobuf message {message_class.DESCRIPTOR.full_name} "
                             f"(schema {self.schema_id}): {exc}") from None
        return frame(self.schema_id, parsed.SerializeToString(), indexes)

    def indexes_of(self, name: str) -> list[int]:
        """The message indexes of a message of the file, by full name or by name without the package."""
        package = f"{self.file.package}." if self.file.package else ""
        wanted = name if name.startswith(package) else package + name

        def search(types: Any, prefix: str, path: list[int]) -> list[int] | None:
            for index, message_type in enumerate(types):
                full = f"{prefix}{message_type.name}"
                if full == wanted:
                    return [*path, index]
                found = search(message_type.nested_type, full + ".", [*path, index])
                if found is not None:
                    return found
            return None

        found = search(self.file.message_type, package, [])
        if found is None:
            names = ", ".join(m.name for m in self.file.message_type)
            raise ValueError(f"Protobuf schema {self.schema_id} has no message {name!r} (its messages: {names})")
        return found

    def _full_name(self, indexes: tuple[int, ...]) -> str:
        types, name = self.file.message_type, self.file.package
        for depth, index in enumerate(indexes):
            if index >= len(types):
                raise DecodeError(f"Protobuf message indexes {list(indexes)} name no message of schema "
                                  f"{self.schema_id} (level {depth + 1} has {len(types)})")
            name = f"{name}.{types[index].name}" if name else types[index].name
            types = types[index].nested_type
        return str(name)

    # --- messages as dicts --------------------------------------------------

    def to_dict(self, message: Any) -> dict[str, Any]:
        defaults, converters = self._plan(message.DESCRIPTOR)
        out = {}
        for field, value in message.ListFields():
            convert = converters[field] if field in converters else self._converter(field)  # an extension
            out[field.name] = value if convert is None else convert(value)
        for name, default, fresh in defaults:
            if name not in out:
                out[name] = type(default)() if fresh else default
        return out

    def _plan(self, descriptor: Any) -> tuple[list[tuple[str, Any, bool]], dict[Any, Converter | None]]:
        """Per message type, once: each field's converter, and the defaults of the fields without presence."""
        plan = self._plans.get(descriptor)
        if plan is None:
            defaults: list[tuple[str, Any, bool]] = []
            converters: dict[Any, Converter | None] = {}
            plan = self._plans[descriptor] = (defaults, converters)  # before the fields: a type may contain itself
            for field in descriptor.fields:
                converters[field] = self._converter(field)
                if _repeated(field):
                    defaults.append((field.name, {} if _is_map(field) else [], True))
                elif not field.has_presence:
                    default = field.default_value
                    if field.type == field.TYPE_ENUM:
                        default = _enum_name(field, default)
                    elif field.type == field.TYPE_BYTES:
                        default = ""
                    defaults.append((field.name, default, False))
        return plan

    def _converter(self, field: Any) -> Converter | None:
        if _is_map(field):
            key_type = field.message_type.fields_by_name["key"]
            value = self._single(field.message_type.fields_by_name["value"])
            keys = _bool_key if key_type.type == key_type.TYPE_BOOL else str
            if value is None:
                return lambda items: {keys(k): v for k, v in items.items()}
            return lambda items: {keys(k): value(v) for k, v in items.items()}
        single = self._single(field)
        if _repeated(field):
            if single is None:
                return list
            return lambda items: [single(item) for item in items]
        return single

    def _single(self, field: Any) -> Converter | None:
        """One value's converter (None: the runtime's value is already JSON's)."""
        kind = field.type
        if kind in (field.TYPE_MESSAGE, field.TYPE_GROUP):
            name = field.message_type.full_name
            if name in WRAPPERS:
                inner = self._single(field.message_type.fields_by_name["value"])
                return (lambda m: m.value) if inner is None else (lambda m: inner(m.value))
            if name.startswith("google.protobuf."):
                from google.protobuf import json_format

                return lambda m: json_format.MessageToDict(m, preserving_proto_field_name=True)
            return self.to_dict
        if kind == field.TYPE_ENUM:
            return lambda number: _enum_name(field, number)
        if kind == field.TYPE_BYTES:
            return lambda raw: base64.b64encode(raw).decode("ascii")
        if kind == field.TYPE_FLOAT:
            return _float32
        return None


def _file_descriptors(registered: RegisteredSchema, references: Sequence[tuple[str, RegisteredSchema]],
                      schema_id: int) -> list[Any]:
    """The FileDescriptorProtos of the schema and everything it imports; the schema's own last."""
    from google.protobuf import descriptor_pb2

    texts: dict[str, str] = {}
    found: dict[str, Any] = {}
    root_name = f"karafkad_schema_{schema_id}.proto"
    for name, schema in (*references, (root_name, registered)):
        compiled = _descriptor(schema.schema)
        if compiled is None:
            texts[name] = schema.schema
        else:
            found[compiled.name] = compiled
            if schema is registered:
                root_name = compiled.name
    if texts:
        for proto in _protoc(texts, root_name if root_name in texts else None, schema_id):
            found.setdefault(proto.name, proto)
    for proto in list(found.values()):
        for dependency in proto.dependency:
            if dependency not in found and dependency.startswith(WELL_KNOWN):
                found[dependency] = _well_known(dependency, descriptor_pb2, schema_id)
    if root_name not in found:
        raise DecodeError(f"Protobuf schema {schema_id}: protoc gave no descriptor of it")
    root = found.pop(root_name)
    return [*found.values(), root]


def _descriptor(text: str) -> Any:
    """A base64 FileDescriptorProto's parsed form, or None when `text` is .proto source."""
    from google.protobuf import descriptor_pb2

    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        return descriptor_pb2.FileDescriptorProto.FromString(raw)
    except Exception:  # protobuf's DecodeError: base64 that is no descriptor; then it is taken for source
        return None


def _protoc(texts: dict[str, str], root: str | None, schema_id: int) -> list[Any]:
    """protoc's descriptors of .proto sources (name -> text, the names their imports use), from one compile."""
    extras.load("grpc_tools", "protobuf")
    import grpc_tools
    from google.protobuf import descriptor_pb2
    from grpc_tools import _protoc_compiler

    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")  # the well-known types' sources
    out: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="karafkad-proto-") as folder, _protoc_lock:
        for name, text in texts.items():
            path = Path(folder, name)
            if not path.resolve().is_relative_to(Path(folder).resolve()):
                raise DecodeError(f"Protobuf schema {schema_id}: reference name {name!r} leaves its folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for name in [root] if root else list(texts):
            with warnings.catch_warnings():  # protoc's warnings (an unused import) are not the operator's problem
                warnings.simplefilter("ignore")
                try:
                    generated = _protoc_compiler.get_protos(name.encode(), [folder.encode(), include.encode()])
                except _protoc_compiler.ProtocErrors as exc:
                    raise DecodeError(f"Protobuf schema {schema_id} does not compile: "
                                      f"{_protoc_errors(exc, folder)}") from None
            out.extend(descriptor_pb2.FileDescriptorProto.FromString(serialized)
                       for _, code in generated for serialized in _serialized_files(code))
    return out


def _serialized_files(code: bytes) -> list[bytes]:
    """The serialized FileDescriptorProto inside protoc's generated Python (its AddSerializedFile argument), read
    from the syntax tree: the generated code is never run."""
    calls = [node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr == "AddSerializedFile"]
    return [call.args[0].value for call in calls
            if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, bytes)]


def _protoc_errors(exc: Any, folder: str) -> str:
    errors = exc.errors() if callable(getattr(exc, "errors", None)) else [exc]
    return "; ".join(str(error).replace(folder + "/", "") for error in errors[:5])


def _well_known(name: str, descriptor_pb2: Any, schema_id: int) -> Any:
    """A well-known type's file descriptor, from the protobuf runtime's own module of it."""
    module = "google.protobuf." + name[len(WELL_KNOWN):].removesuffix(".proto").replace("/", ".") + "_pb2"
    try:
        return descriptor_pb2.FileDescriptorProto.FromString(importlib.import_module(module).DESCRIPTOR.serialized_pb)
    except ImportError:
        raise DecodeError(f"Protobuf schema {schema_id} imports {name}, which this protobuf runtime lacks") from None


def _dependency_order(files: list[Any], schema_id: int) -> list[Any]:
    """The files with each one's imports before it (the pool builds a file as it is added)."""
    by_name = {proto.name: proto for proto in files}
    ordered: list[Any] = []
    done: set[str] = set()

    def visit(proto: Any, trail: tuple[str, ...]) -> None:
        if proto.name in done:
            return
        for dependency in proto.dependency:
            if dependency in trail:
                raise DecodeError(f"Protobuf schema {schema_id}: imports go round ({' -> '.join(trail)})")
            if dependency not in by_name:
                raise DecodeError(f"Protobuf schema {schema_id}: {proto.name} imports {dependency}, which no "
                                  "reference of the schema provides")
            visit(by_name[dependency], (*trail, dependency))
        done.add(proto.name)
        ordered.append(proto)

    for proto in files:
        visit(proto, (proto.name,))
    return ordered


def _repeated(field: Any) -> bool:
    repeated = getattr(field, "is_repeated", None)
    return bool(repeated) if repeated is not None else field.label == field.LABEL_REPEATED


def _is_map(field: Any) -> bool:
    return bool(field.type == field.TYPE_MESSAGE and _repeated(field) and field.message_type.GetOptions().map_entry)


def _enum_name(field: Any, number: int) -> str | int:
    value = field.enum_type.values_by_number.get(number)
    return str(value.name) if value is not None else number


def _bool_key(key: bool) -> str:
    return "true" if key else "false"


def _float32(value: float) -> float:
    """A 32-bit float's shortest decimal form that reads back as the same float (0.1, not 0.10000000149011612)."""
    for digits in range(6, 10):
        short = float(f"{value:.{digits}g}")
        if struct.unpack("f", struct.pack("f", short))[0] == value:
            return short
    return value
