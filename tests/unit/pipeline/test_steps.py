"""pipeline.py: what each message becomes, as values (no Kafka, no Redis)."""

from __future__ import annotations

import zlib
from pathlib import Path

from tables import make_record, make_table, records

from karafkad.pipeline.records import PlainRecord
from karafkad.pipeline.steps import Pipeline
from karafkad.pipeline.trace import TraceStep


def _pipeline(tmp_path: Path, *routes: dict[str, object], max_bytes: int = 1000) -> Pipeline:
    table = make_table(tmp_path, {"g": {"routes": list(routes)}})
    return Pipeline(table.groups["g"], max_bytes)


class TestPipeline:
    def test_each_message_becomes_a_job_with_a_deterministic_id(self, tmp_path: Path) -> None:
        """Job ids are prefix-partition-offset, one per message, args [params]."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle", "queue": "q"})
        batch = pipeline.process("t", 3, records([{"n": 1}, {"n": 2}], partition=3, start=10))
        assert [j.job_id.rsplit("-", 2)[1:] for j in batch.jobs] == [["3", "10"], ["3", "11"]]
        assert [j.args for j in batch.jobs] == [[{"n": 1}], [{"n": 2}]]
        assert batch.last_offset == 11 and batch.consumed == 2
        assert batch.jobs[0].template.queue == "q"

    def test_same_message_gets_the_same_id_in_another_pipeline(self, tmp_path: Path) -> None:
        """Ids depend on group, topic, route, partition and offset only: a redelivery has the same id."""
        route = {"topic": "t", "handler": "h.handle"}
        first = _pipeline(tmp_path, route).process("t", 0, records([{"n": 1}]))
        second = _pipeline(tmp_path, route).process("t", 0, records([{"n": 1}]))
        assert first.jobs[0].job_id == second.jobs[0].job_id

    def test_records_at_or_below_the_known_mark_are_only_counted(self, tmp_path: Path) -> None:
        """Messages already handled before a crash (offset <= mark) make nothing, but move last_offset."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle"})
        batch = pipeline.process("t", 0, records([{"n": i} for i in range(5)]), known_mark=2)
        assert [j.offset for j in batch.jobs] == [3, 4]
        assert batch.redelivered == 3 and batch.last_offset == 4

    def test_undecodable_message_is_dead_lettered_with_the_reason(self, tmp_path: Path) -> None:
        """Invalid JSON goes to the route's dead-letter topic, kind decode."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle", "dead_letter": "dlq"})
        batch = pipeline.process("t", 0, records([b"{not json"]))
        assert batch.jobs == []
        assert [(d.kind, d.topic) for d in batch.dead_letters] == [("decode", "dlq")]
        assert "invalid JSON" in batch.dead_letters[0].reason

    def test_on_error_skip_counts_and_notes_instead_of_dead_lettering(self, tmp_path: Path) -> None:
        """With on_error: skip a bad message is counted under error:<kind> and noted for the log."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle", "on_error": "skip"})
        batch = pipeline.process("t", 0, records([b"\xff\xfe"]))
        assert batch.dead_letters == []
        assert dict(batch.skipped) == {("t->" + pipeline.routes.routes[0].spec.handler, "error:decode"): 1}
        assert batch.skip_notes and batch.skip_notes[0][1] == 0

    def test_oversize_message_is_rejected_before_decoding(self, tmp_path: Path) -> None:
        """A value above max_message_bytes is dead-lettered as oversize."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle", "dead_letter": "dlq"}, max_bytes=10)
        batch = pipeline.process("t", 0, records([b'{"n": 1234567890123}']))
        assert [d.kind for d in batch.dead_letters] == ["oversize"]

    def test_schema_violation_names_the_field(self, tmp_path: Path) -> None:
        """The dead letter's reason says which field broke which rule."""
        schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle", "dead_letter": "d", "schema": schema})
        batch = pipeline.process("t", 0, records([{"n": "x"}]))
        assert batch.dead_letters[0].kind == "schema"
        assert batch.dead_letters[0].reason.startswith("/n:")

    def test_filter_false_is_a_counted_skip(self, tmp_path: Path) -> None:
        """A message failing the filter makes no job and is counted as filtered."""
        pipeline = _pipeline(tmp_path, {"name": "r", "topic": "t", "handler": "h.handle", "filter": "params.n > 1"})
        batch = pipeline.process("t", 0, records([{"n": 1}, {"n": 2}]))
        assert [j.args[0]["n"] for j in batch.jobs] == [2]
        assert dict(batch.skipped) == {("r", "filtered"): 1}

    def test_filter_runtime_error_follows_on_error(self, tmp_path: Path) -> None:
        """A filter that fails on a message (string vs number) dead-letters it, kind filter."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle", "dead_letter": "d",
                                        "filter": "params.n > 1"})
        batch = pipeline.process("t", 0, records([{"n": "text"}]))
        assert [d.kind for d in batch.dead_letters] == ["filter"]

    def test_filter_sees_key_headers_and_position(self, tmp_path: Path) -> None:
        """key, headers, topic, partition and offset are readable in a filter."""
        expr = 'key == "k" and headers["h"] == "v" and topic == "t" and partition == 2 and offset == 5'
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle", "filter": expr})
        record = make_record(5, b"{}", partition=2, key=b"k", headers=[("h", b"v")])
        assert len(pipeline.process("t", 2, [record]).jobs) == 1

    def test_hook_veto_and_hook_failure(self, tmp_path: Path) -> None:
        """A hook returning false vetoes (counted); a hook raising is a rejection of kind hook."""
        pipeline = _pipeline(
            tmp_path,
            {"name": "even", "topic": "t", "handler": "h.handle", "before_enqueue": "h.even"},
            {"name": "boom", "topic": "t", "handler": "h.handle", "before_enqueue": "h.explode", "dead_letter": "d"})
        batch = pipeline.process("t", 0, records([{"n": 1}, {"n": 2}]))
        assert [(j.route, j.args[0]["n"]) for j in batch.jobs] == [("even", 2)]
        assert batch.skipped[("even", "vetoed")] == 1
        assert [d.kind for d in batch.dead_letters] == ["hook", "hook"]
        assert "ValueError: hook broke" in batch.dead_letters[0].reason

    def test_a_json_routes_job_carries_the_message_text_as_it_came(self, tmp_path: Path) -> None:
        """The params of a JSON route's job are the message's own text (not serialized again); the call a
        worker reads is the same."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle"})
        job = pipeline.process("t", 0, [make_record(0, b'{ "n" :  1 }')]).jobs[0]
        assert b'{ "n" :  1 }' in zlib.decompress(job.data)
        assert job.args == [{"n": 1}]

    def test_a_hook_that_changes_the_params_changes_the_job(self, tmp_path: Path) -> None:
        """With a before_enqueue hook the params may have changed: the job carries them as the hook left them."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle", "before_enqueue": "h.enrich"})
        assert pipeline.process("t", 0, records([{"n": 1}])).jobs[0].args == [{"n": 1, "seen": True}]

    def test_a_job_is_named_and_described_from_its_offset(self, tmp_path: Path) -> None:
        """Jobs of one route and partition share one naming; id and description end with the offset."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle"})
        first, second = pipeline.process("t", 4, records([{"n": 1}, {"n": 2}], partition=4, start=8)).jobs
        assert first.naming is second.naming
        assert second.job_id == f"{second.naming.id_head}9" and second.job_id.endswith("-4-9")
        assert second.description.endswith("handle <- t[4]@9")

    def test_handler_taking_meta_gets_the_message_metadata(self, tmp_path: Path) -> None:
        """args are [params, meta] for a handler with two parameters."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle_meta"})
        record = make_record(7, b'{"n": 1}', key=b"\xffk", headers=[("x", None)])
        params, meta = pipeline.process("t", 0, [record]).jobs[0].args
        assert params == {"n": 1}
        assert meta["offset"] == 7 and meta["key"] == "\\xffk" and meta["headers"] == {"x": None}

    def test_batch_route_makes_one_job_per_partition_batch(self, tmp_path: Path) -> None:
        """batch: true collects the batch's params into one job named by first and last offset."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle", "batch": True, "filter": "params.n != 1"})
        batch = pipeline.process("t", 0, records([{"n": 0}, {"n": 1}, {"n": 2}], start=4))
        assert len(batch.jobs) == 1
        job = batch.jobs[0]
        assert job.args == [[{"n": 0}, {"n": 2}]]
        assert job.job_id.endswith("-0-4-6") and job.offset == 6

    def test_a_sized_batch_route_splits_a_batch_into_jobs_of_at_most_max_messages(self, tmp_path: Path) -> None:
        """batch: {max_messages: 2}: the messages that passed make jobs of two (the last one of what is left),
        each named by its own first and last offset and numbered by its last; a `batch: true` route of the topic
        takes the whole batch in one job."""
        pipeline = _pipeline(tmp_path, {"name": "sized", "topic": "t", "handler": "h.handle", "filter": "params.n != 1",
                                        "batch": {"max_messages": 2}},
                             {"name": "whole", "topic": "t", "handler": "h.handle", "batch": True})
        batch = pipeline.process("t", 0, records([{"n": n} for n in range(6)], start=10))
        sized = [job for job in batch.jobs if job.route == "sized"]
        assert [(job.job_id.split("-", 3)[-1], job.offset, job.args) for job in sized] == [
            ("0-10-12", 12, [[{"n": 0}, {"n": 2}]]), ("0-13-14", 14, [[{"n": 3}, {"n": 4}]]),
            ("0-15-15", 15, [[{"n": 5}]])]
        assert [job.description.rsplit("@", 1)[1] for job in sized] == [
            "10..12 (2 messages)", "13..14 (2 messages)", "15..15 (1 message)"]
        [whole] = [job for job in batch.jobs if job.route == "whole"]
        assert whole.args == [[{"n": n} for n in range(6)]]

    def test_tombstone_policies(self, tmp_path: Path) -> None:
        """A null value: skip (default), enqueue with params None, or dead_letter."""
        pipeline = _pipeline(
            tmp_path,
            {"name": "skip", "topic": "t", "handler": "h.handle"},
            {"name": "keep", "topic": "t", "handler": "h.handle", "tombstone": "enqueue"},
            {"name": "dead", "topic": "t", "handler": "h.handle", "tombstone": "dead_letter", "dead_letter": "d"})
        batch = pipeline.process("t", 0, records([None]))
        assert [(j.route, j.args) for j in batch.jobs] == [("keep", [None])]
        assert batch.skipped[("skip", "tombstone")] == 1
        assert [d.kind for d in batch.dead_letters] == ["tombstone"]

    def test_same_rejection_by_two_routes_is_one_dead_letter(self, tmp_path: Path) -> None:
        """Two routes rejecting one message the same way into one topic send it once, naming both."""
        pipeline = _pipeline(tmp_path, {"name": "a", "topic": "t", "handler": "h.handle", "dead_letter": "d"},
                             {"name": "b", "topic": "t", "handler": "h.handle", "dead_letter": "d"})
        batch = pipeline.process("t", 0, records([b"junk"]))
        assert len(batch.dead_letters) == 1
        assert batch.dead_letters[0].route_names == ["a", "b"]

    def test_description_placeholders_are_filled(self, tmp_path: Path) -> None:
        """job.description fills {topic}, {partition}, {offset} and {key}."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle",
                                        "job": {"description": "{topic}/{partition}/{offset}/{key}"}})
        record = make_record(3, b"{}", key=b"k")
        assert pipeline.process("t", 0, [record]).jobs[0].description == "t/0/3/k"

    def test_a_message_without_a_key_is_described_with_a_dash(self, tmp_path: Path) -> None:
        """Not "None", which reads like a key that is the word None."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle",
                                        "job": {"description": "payment {key} from {topic}"}})
        assert pipeline.process("t", 0, [make_record(0, b"{}")]).jobs[0].description == "payment - from t"

    def test_unrouted_topic_makes_nothing(self, tmp_path: Path) -> None:
        """Records of a topic without routes only move last_offset."""
        pipeline = _pipeline(tmp_path, {"topic": "t", "handler": "h.handle"})
        batch = pipeline.process("other", 0, records([{"n": 1}], topic="other"))
        assert batch.jobs == [] and batch.last_offset == 0


NOW = 1_799_000_000.0
"""The pipeline's clock in the tests below (records are stamped 1_700_000_000_000 + offset ms)."""


def _timed(tmp_path: Path, **route: object) -> Pipeline:
    table = make_table(tmp_path, {"g": {"routes": [{"topic": "t", "handler": "h.handle", "dead_letter": "d",
                                                    **route}]}})
    return Pipeline(table.groups["g"], 1000, clock=lambda: NOW)


class TestMaxAge:
    def test_a_message_older_than_max_age_is_skipped_as_expired(self, tmp_path: Path) -> None:
        """Its Kafka timestamp against the pipeline's clock; counted, no job, in the trace."""
        pipeline = _timed(tmp_path, max_age=60)
        old = make_record(0, b'{"n": 1}')  # stamped in 2023
        fresh = make_record(1, b'{"n": 2}')
        fresh = type(fresh)(fresh.topic, 0, 1, fresh.value, None, (), int((NOW - 30) * 1000))
        trace: list[TraceStep] = []
        batch = pipeline.process("t", 0, [old, fresh], trace=trace)
        assert [j.offset for j in batch.jobs] == [1]
        assert list(batch.skipped.values()) == [1] and [r for _, r in batch.skipped] == ["expired"]
        assert trace[0].label == "age" and "expired" in trace[0].result

    def test_a_message_without_a_timestamp_is_never_expired(self, tmp_path: Path) -> None:
        """Timestamp 0 (none recorded): there is no age to compare."""
        undated = PlainRecord("t", 0, 0, b'{"n": 1}')
        assert len(_timed(tmp_path, max_age=1).process("t", 0, [undated]).jobs) == 1


class TestDueTimes:
    def test_delay_makes_the_job_due_that_long_after_consuming(self, tmp_path: Path) -> None:
        """job.delay: due = now + delay, in whole seconds."""
        batch = _timed(tmp_path, job={"delay": 30}).process("t", 0, records([{"n": 1}]))
        assert batch.jobs[0].at == int(NOW) + 30

    def test_at_takes_a_time_from_the_message(self, tmp_path: Path) -> None:
        """ISO 8601 (UTC without an offset), epoch seconds or milliseconds; a past time is now (0)."""
        pipeline = _timed(tmp_path, job={"at": "params.when.due"})
        values = [{"when": {"due": "2027-01-15T08:00:00Z"}}, {"when": {"due": "2027-01-15T08:00:00"}},
                  {"when": {"due": "2027-01-15T09:00:00+01:00"}}, {"when": {"due": 1_800_000_100}},
                  {"when": {"due": 1_800_000_100_000}}, {"when": {"due": 5}}]
        batch = pipeline.process("t", 0, records(values))
        january = 1_800_000_000  # 2027-01-15T08:00:00Z
        assert [j.at for j in batch.jobs] == [january, january, january, 1_800_000_100, 1_800_000_100, 0]

    def test_a_missing_or_unreadable_time_rejects_the_message(self, tmp_path: Path) -> None:
        """The dead letter's kind is schedule, its reason names the field."""
        pipeline = _timed(tmp_path, job={"at": "params.due"})
        batch = pipeline.process("t", 0, records([{"n": 1}, {"due": "soon"}, {"due": [1]}, {"due": True}]))
        assert batch.jobs == []
        assert [(d.kind, d.reason.split(":")[0]) for d in batch.dead_letters] == [("schedule", "job.at")] * 4
        assert "has no params.due" in batch.dead_letters[0].reason
        assert "not an ISO 8601 time" in batch.dead_letters[1].reason

    def test_a_batch_route_with_delay_makes_one_job_due_later(self, tmp_path: Path) -> None:
        """batch: true with job.delay: the one job of the batch is due after the delay."""
        batch = _timed(tmp_path, batch=True, job={"delay": 5}).process("t", 0, records([{"n": 1}, {"n": 2}]))
        assert len(batch.jobs) == 1 and batch.jobs[0].at == int(NOW) + 5
