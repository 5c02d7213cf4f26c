"""pipeline/watching.py and the pipeline's tracing: the trace context handed on to jobs, and a sampled message's
outcomes read off its batch for its spans (a fake tracer: no OpenTelemetry)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tables import make_record, make_table

from karafkad.clients.kafka.types import Record
from karafkad.pipeline.steps import Pipeline
from karafkad.tracing.context import TraceContext
from karafkad.tracing.messages import RouteOutcome

TRACE = "0af7651916cd43dd8448eb211c80319c"
SAMPLED = f"00-{TRACE}-b7ad6b7169203331-01"
UNSAMPLED = f"00-{TRACE}-b7ad6b7169203331-00"


class FakeTracer:
    """Records what it is told; each route's span is numbered from 1 (its span id)."""

    def __init__(self, recorded: bool = True) -> None:
        self.calls: list[tuple[int, str, TraceContext, list[RouteOutcome]]] = []
        self.recorded = recorded

    def spans(self, record: Record, group: str, context: TraceContext, started_ns: int,
              outcomes: Sequence[RouteOutcome]) -> list[TraceContext | None]:
        assert started_ns > 0
        self.calls.append((record.offset, group, context, list(outcomes)))
        return [context.child(i, 1) if self.recorded else None for i, _ in enumerate(outcomes, 1)]


def _pipeline(tmp_path: Path, routes: list[dict[str, Any]], tracer: FakeTracer | None = None) -> Pipeline:
    table = make_table(tmp_path, {"g": {"routes": routes}})
    return Pipeline(table.groups["g"], 1000, tracer=tracer)


def _record(offset: int, value: Any, traceparent: str | None = None, **headers: bytes) -> Any:
    pairs = [("traceparent", traceparent.encode())] if traceparent else []
    return make_record(offset, json.dumps(value).encode(), headers=[*pairs, *headers.items()])


class TestContextCarried:
    def test_a_job_carries_its_message_s_context_in_its_meta(self, tmp_path: Path) -> None:
        """Without a tracer (tracing off) too: the meta RQ would write for the message's W3C headers."""
        pipeline = _pipeline(tmp_path, [{"topic": "t", "handler": "h.handle"}])
        batch = pipeline.process("t", 0, [_record(0, {"n": 1}, SAMPLED, tracestate=b"a=1")])
        assert json.loads(batch.jobs[0].meta) == {"traceparent": SAMPLED, "tracestate": "a=1"}

    def test_a_job_of_a_message_without_a_context_has_no_meta(self, tmp_path: Path) -> None:
        """No headers, other headers, an invalid traceparent: no meta field at all."""
        pipeline = _pipeline(tmp_path, [{"topic": "t", "handler": "h.handle"}])
        batch = pipeline.process("t", 0, [_record(0, {}), _record(1, {}, other=b"x"), _record(2, {}, "00-bad")])
        assert [job.meta for job in batch.jobs] == [b"", b"", b""]

    def test_a_pickle_route_writes_its_meta_with_pickle(self, tmp_path: Path) -> None:
        """The meta is serialized as the route's jobs are."""
        import pickle

        route = {"topic": "t", "handler": "h.handle", "job": {"serializer": "pickle"}}
        batch = _pipeline(tmp_path, [route]).process("t", 0, [_record(0, {}, SAMPLED)])
        assert pickle.loads(batch.jobs[0].meta) == {"traceparent": SAMPLED}  # noqa: S301 - our own bytes

    def test_unsampled_and_context_free_messages_are_not_traced(self, tmp_path: Path) -> None:
        """Parent-based: the tracer hears only of sampled messages; an unsampled one's job carries its context as
        it came."""
        tracer = FakeTracer()
        pipeline = _pipeline(tmp_path, [{"topic": "t", "handler": "h.handle"}], tracer)
        batch = pipeline.process("t", 0, [_record(0, {}), _record(1, {}, UNSAMPLED)])
        assert tracer.calls == []
        assert json.loads(batch.jobs[1].meta) == {"traceparent": UNSAMPLED}


class TestSampledMessages:
    def test_each_route_s_outcome_is_told_and_its_jobs_continue_from_its_span(self, tmp_path: Path) -> None:
        """Three routes of a topic: one enqueues (its job continues from its span), one filters, one
        dead-letters; the message's group and context come with them."""
        tracer = FakeTracer()
        pipeline = _pipeline(tmp_path, [
            {"name": "made", "topic": "t", "handler": "h.handle", "queue": "q"},
            {"name": "filtered", "topic": "t", "handler": "h.handle", "filter": "params.n > 5"},
            {"name": "bad", "topic": "t", "handler": "h.handle", "dead_letter": "dlq",
             "schema": {"properties": {"n": {"type": "string"}}}},
        ], tracer)
        batch = pipeline.process("t", 0, [_record(0, {"n": 1}, SAMPLED)])
        ((offset, group, context, outcomes),) = tracer.calls
        assert (offset, group, context) == (0, "g", TraceContext(SAMPLED))
        assert [(o.route, o.outcome) for o in outcomes] == [("made", "enqueue"), ("filtered", "skip"),
                                                             ("bad", "reject")]
        assert outcomes[0].queue == "q" and outcomes[0].job_ids == (batch.jobs[0].job_id,)
        assert outcomes[1].reason == "filtered"
        assert outcomes[2].reason.startswith("schema: /n:")
        assert json.loads(batch.jobs[0].meta) == {"traceparent": f"00-{TRACE}-0000000000000001-01"}

    def test_only_the_sampled_message_of_a_batch_is_read_off_it(self, tmp_path: Path) -> None:
        """Messages before and after it, traced or not, are not counted as its outcomes."""
        tracer = FakeTracer()
        pipeline = _pipeline(tmp_path, [{"name": "r", "topic": "t", "handler": "h.handle", "on_error": "skip",
                                         "filter": "params.n > 0"}], tracer)
        pipeline.process("t", 0, [_record(0, {"n": 1}), _record(1, {"n": 0}, SAMPLED), _record(2, {"n": 2}),
                                  make_record(3, b"{not json", headers=[("traceparent", SAMPLED.encode())])])
        told = [(offset, [(o.outcome, o.reason) for o in outcomes]) for offset, _, _, outcomes in tracer.calls]
        assert told[0] == (1, [("skip", "filtered")])
        assert told[1][0] == 3 and told[1][1][0][1].startswith("error:decode: invalid JSON")

    def test_a_batch_route_s_gathered_message_is_enqueued_without_a_job_id(self, tmp_path: Path) -> None:
        """Its job is named when the batch is complete, so the outcome names the queue only."""
        tracer = FakeTracer()
        pipeline = _pipeline(tmp_path, [{"topic": "t", "handler": "h.handle", "batch": True}], tracer)
        pipeline.process("t", 0, [_record(0, {}), _record(1, {}, SAMPLED)])
        ((_, _, _, (outcome,)),) = tracer.calls
        assert (outcome.outcome, outcome.job_ids) == ("enqueue", ())

    def test_a_span_not_recorded_leaves_the_context_as_it_came(self, tmp_path: Path) -> None:
        """When the configured sampler drops the span, the job carries the producer's context."""
        pipeline = _pipeline(tmp_path, [{"topic": "t", "handler": "h.handle"}], FakeTracer(recorded=False))
        batch = pipeline.process("t", 0, [_record(0, {}, SAMPLED)])
        assert json.loads(batch.jobs[0].meta) == {"traceparent": SAMPLED}
