"""One narrow fix to kafka-python: record header keys that are not UTF-8.

The Kafka protocol types a header key as a UTF-8 string, but brokers store
whatever producers send. kafka-python 3.0 decodes each key strictly while
parsing a fetched batch; one bad key raises CorruptRecordError from poll()
and, on the next poll, the fetcher spins forever on the same batch (seen with
kafka-python 3.0.12: the whole consumer stalls). One producer's junk would
stop every route of the group.

The fix decodes header keys with `surrogateescape`, so the original bytes
survive; the pipeline then dead-letters such a message with the reason
"header key is not UTF-8". (kafka-python's producer can only send UTF-8
keys, so the dead letter carries that key as escaped text, see
`pipeline.records.printable_key`.)
It is applied by rewriting the one line in kafka-python's own function, and
only when that line is exactly as expected; otherwise nothing is changed and
`apply()` says so (the consumer then behaves as plain kafka-python does).
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from typing import Any

from kafka.consumer.fetcher import Fetcher
from kafka.record.default_records import DefaultRecordBatch

from karafkad.clients.kafka.types import ConsumerClient

_STRICT_DECODE = 'decode("utf-8")'
_STRICT_ENCODE = 'encode("utf-8")'
_applied: dict[str, bool] = {}


def _fixes() -> list[tuple[Any, str, str, str]]:
    """(class, method, line as kafka-python 3.0 writes it, the same line made lossless)."""
    lossless_decode = 'decode("utf-8", "surrogateescape")'
    lossless_encode = 'encode("utf-8", "surrogateescape")'
    read = 'h_key = buffer[pos: pos + h_key_len].decode("utf-8")'
    size = 'len(h_key.encode("utf-8"))'
    return [
        (DefaultRecordBatch, "_read_msg", read, read.replace(_STRICT_DECODE, lossless_decode)),
        (Fetcher.PartitionRecords, "_unpack_records", size, size.replace(_STRICT_ENCODE, lossless_encode)),
    ]


def _rewrite(cls: Any, name: str, old: str, new: str) -> bool:
    function = getattr(cls, name)
    if getattr(function, "__karafkad_patched__", False):
        return True
    source = textwrap.dedent(inspect.getsource(function))
    if source.count(old) != 1:
        return False
    module = inspect.getmodule(function)
    namespace: dict[str, Callable[..., Any]] = {}
    # Recompiles kafka-python's own function with one line changed, in its own
    # module's globals; nothing from outside the installed library is run.
    exec(compile(source.replace(old, new), inspect.getfile(function), "exec"), vars(module), namespace)  # noqa: S102
    patched = namespace[name]
    patched.__karafkad_patched__ = True  # type: ignore[attr-defined]
    setattr(cls, name, patched)
    return True


def apply() -> bool:
    """Make header-key decoding lossless; True when kafka-python was patched (or already was)."""
    if "result" in _applied:
        return _applied["result"]
    fixes = _fixes()
    # All or nothing: check every line first, so kafka-python is never left half patched.
    if not all(_matches(cls, name, old) for cls, name, old, _ in fixes):
        _applied["result"] = False
        return False
    _applied["result"] = all(_rewrite(cls, name, old, new) for cls, name, old, new in fixes)
    return _applied["result"]


def _matches(cls: Any, name: str, old: str) -> bool:
    function = getattr(cls, name, None)
    if function is None:
        return False
    return getattr(function, "__karafkad_patched__", False) or inspect.getsource(function).count(old) == 1


def prefetch(consumer: ConsumerClient) -> None:
    """Ask kafka-python to fetch for the partitions whose buffered records are used up.

    kafka-python 3.0 sends the next fetch only when every partition's buffer is
    empty, so the consumer thread then waits a whole fetch round trip. Called
    after each poll, this keeps a fetch going for the partitions already
    drained while the others are still being worked on. A no-op where the
    internal method is missing.
    """
    fetcher = getattr(consumer, "_fetcher", None)
    send = getattr(fetcher, "send_fetches", None)
    if send is not None:
        send()
