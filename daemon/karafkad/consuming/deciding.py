"""What a poll's records become: each partition's batches from the pipeline, a replay window's records apart.

Records inside a partition's replay window (store/replays.py) go through the
window's routes only, under its job id suffix and its own mark; the others
go through every route under the partition's own mark, as usual. Records at
or below the mark they are decided under were handled before and are only
counted (marks_cache.py has the marks).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter

from karafkad.clients.kafka.types import Record, TopicPartition
from karafkad.consuming.delivery import Delivered
from karafkad.consuming.marks_cache import Marks
from karafkad.pipeline.outcomes import PartitionBatch
from karafkad.pipeline.steps import Pipeline

_offset = attrgetter("offset")


def decide(pipeline: Pipeline, marks: Marks, records: Mapping[TopicPartition, Sequence[Record]],
           next_offset: Callable[[TopicPartition], int]) -> Delivered:
    """A poll's batches, partition by partition in the poll's order. A partition's last batch carries
    `next_offset(tp)`, its position after the poll (-1: not known), from which its commit offset follows."""
    batches: Delivered = []
    for tp, recs in records.items():
        for batch in _partition(pipeline, marks, tp, recs):
            batches.append((tp, batch))
        batches[-1][1].next_offset = next_offset(tp)
    return batches


def _partition(pipeline: Pipeline, marks: Marks, tp: TopicPartition,
               records: Sequence[Record]) -> list[PartitionBatch]:
    """One partition's records: those inside its replay window through the window's routes, under its ids and
    mark; the others as usual. In offset order."""
    window = marks.window(tp)
    if window is None or records[0].offset >= window.end or records[-1].offset < window.start:
        return [pipeline.process(tp.topic, tp.partition, records, marks.get(tp))]
    routes = pipeline.routes.by_topic.get(tp.topic, ())
    chosen = [r for r in routes if not window.routes or r.name in window.routes]
    # Records come in offset order and the window is one span of offsets: two cuts, not a test per record.
    first = bisect_left(records, window.start, key=_offset)
    past = bisect_left(records, window.end, key=_offset)
    batch = pipeline.process(tp.topic, tp.partition, records[first:past], marks.get(tp, window.stream),
                             only=chosen, id_suffix=window.id_suffix)
    batch.stream = window.stream
    rest = [*records[:first], *records[past:]]
    if not rest:
        return [batch]
    return [batch, pipeline.process(tp.topic, tp.partition, rest, marks.get(tp))]
