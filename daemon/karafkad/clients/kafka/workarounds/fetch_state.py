"""What kafka-python knows but does not say: positions, last stable offsets, the batch it could not read.

Each reads kafka-python 3.0's internal state, defensively (a test double or a
changed kafka-python gives "unknown", never an error), in one place, so the
runtime only sees typed answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from karafkad.clients.kafka.types import ConsumerClient, TopicPartition


def position(consumer: ConsumerClient, tp: TopicPartition) -> int | None:
    """The partition's fetch position as of the last poll, without a network call (None when unknown).

    After a poll it is the offset after the last record returned, or further: past a transaction's
    commit or abort marker and past an aborted transaction's records, which read_committed never
    returns. `consumer.position()` says the same but may block to refresh it.
    """
    state = getattr(getattr(consumer, "_subscription", None), "assignment", {}).get(tp)
    current = getattr(state, "position", None)
    return None if current is None else int(current.offset)


class StableOffsets:
    """The last stable offset of each partition, as the broker sent it with each fetch (no extra request).

    Under read_committed only the records below it can be consumed (an open transaction holds the
    rest back); kafka-python reads the value from every fetch response and drops it, so a wrapper
    around its fetch parser keeps it. It runs on the thread that polls.
    """

    def __init__(self, consumer: ConsumerClient) -> None:
        self._offsets: dict[TopicPartition, int] = {}
        fetcher = getattr(consumer, "_fetcher", None)
        parse = getattr(fetcher, "_parse_fetched_data", None)
        if fetcher is None or parse is None:
            return  # a test double, or a kafka-python without it: lag falls back to the high watermark

        def remember(completed: Any) -> Any:
            data = completed.partition_data
            stable = getattr(data, "last_stable_offset", None)
            if getattr(data, "error_code", 1) == 0 and stable is not None and stable >= 0:
                self._offsets[completed.topic_partition] = int(stable)
            return parse(completed)

        fetcher._parse_fetched_data = remember

    def get(self, tp: TopicPartition) -> int | None:
        return self._offsets.get(tp)


@dataclass(frozen=True)
class BadBatch:
    """A fetched batch kafka-python could not read (an unknown codec, a corrupt CRC, a broken payload)."""

    partition: TopicPartition
    offset: int
    """Where the partition stands: the first offset of the batch that cannot be read."""
    error: str


def set_aside_bad_batch(consumer: ConsumerClient, error: BaseException) -> BadBatch | None:
    """After poll() raised: the partition whose batch could not be read, or None if the error was not that.

    kafka-python 3.0 raises the error once (without saying which partition) and on the next poll
    loops forever on the same dead iterator (seen with 3.0.12: every error raised while records are
    unpacked). The partition's iterator is still parked in the fetcher: draining it ends the loop.
    The caller must then pause the partition, or the next fetch brings the same batch again.
    """
    fetcher = getattr(consumer, "_fetcher", None)
    records = getattr(fetcher, "_next_partition_records", None)
    if not records:  # falsy: drained (the error came from elsewhere)
        return None
    tp, offset = records.topic_partition, int(records.next_fetch_offset)
    records.drain()
    return BadBatch(tp, offset, f"{type(error).__name__}: {error}")
