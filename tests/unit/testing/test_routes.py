"""testing.py: messages fed to compiled routes give the daemon's own decisions (no Kafka, no Redis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tables import make_table

from karafkad.errors import ConfigError
from karafkad.pipeline.records import PlainRecord
from karafkad.pipeline.steps import Pipeline
from karafkad.testing import Job, Message, Routes, Skip, message

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "routes.yaml"


pytestmark = pytest.mark.usefixtures("isolated_imports")


def _routes(tmp_path: Path, *routes: dict[str, object], **sections: object) -> Routes:
    return Routes(make_table(tmp_path, {"g": {"routes": list(routes)}}, **sections))


class TestMessage:
    def test_data_is_json_raw_is_exact_and_tombstones_have_no_value(self) -> None:
        """message() encodes data as JSON, keeps raw bytes/text as they are, and makes None for a tombstone."""
        assert message({"a": 1}).value == b'{"a":1}'
        assert message(raw="not json").value == b"not json"
        assert message(raw=b"\xff").value == b"\xff"
        assert message(tombstone=True, key="k") == Message(None, b"k")
        assert message("text").value == b'"text"'  # data is always JSON, even a string

    def test_exactly_one_source(self) -> None:
        """Giving two sources (or none) is a TypeError."""
        with pytest.raises(TypeError, match="exactly one"):
            message({"a": 1}, raw=b"x")
        with pytest.raises(TypeError, match="exactly one"):
            message()


class TestRoutes:
    def test_a_job_carries_what_a_worker_receives(self, tmp_path: Path) -> None:
        """queue, function, args (after the JSON serializer: tuples are lists), options, description and id."""
        routes = _routes(tmp_path, {"topic": "t", "handler": "h.handle", "queue": "q",
                                    "job": {"timeout": 9, "retry": {"max": 2, "intervals": [1, 2]}}})
        job = routes.feed("t", {"n": 1, "pair": [1, 2]}).job()
        assert (job.queue, job.function.rsplit(".", 1)[1], job.args) == ("q", "handle", [{"n": 1, "pair": [1, 2]}])
        assert job.options == {"timeout": 9, "result_ttl": 500, "failure_ttl": 365 * 24 * 3600, "ttl": None,
                               "retry": {"max": 2, "intervals": [1, 2]}, "at_front": False, "serializer": "json",
                               "delay": None, "at": None}
        assert job.description.endswith("<- t[0]@0") and job.job_id.endswith("-0-0")
        assert job.meta is None

    def test_jobs_are_exactly_the_pipelines(self, tmp_path: Path) -> None:
        """The job ids and arguments are those the daemon's Pipeline builds for the same message."""
        table = make_table(tmp_path, {"g": {"routes": [{"topic": "t", "handler": "h.handle_meta"}]}})
        job = Routes(table).feed("t", {"n": 1}, key="k", partition=2).job()
        record = PlainRecord("t", 2, 0, b'{"n":1}', b"k")
        pending = Pipeline(table.groups["g"], 1000).process("t", 2, [record]).jobs[0]
        assert (job.job_id, job.args) == (pending.job_id, pending.args)

    def test_offsets_count_up_per_partition_until_reset(self, tmp_path: Path) -> None:
        """Each message fed gets the next offset of its partition (in job ids and meta); reset starts over."""
        routes = _routes(tmp_path, {"topic": "t", "handler": "h.handle_meta"})
        assert routes.feed("t", {}).job().meta["offset"] == 0
        assert routes.feed("t", {}).job().meta["offset"] == 1
        assert routes.feed("t", {}, partition=1).job().meta["offset"] == 0
        routes.reset()
        assert routes.feed("t", {}).job().meta["offset"] == 0

    def test_meta_holds_key_headers_and_timestamp(self, tmp_path: Path) -> None:
        """A handler taking meta gets the message's key, headers, timestamp, group and route."""
        routes = _routes(tmp_path, {"name": "r", "topic": "t", "handler": "h.handle_meta"})
        meta = routes.feed("t", {"n": 1}, key="k", headers={"trace": "x"}, timestamp=5).job().meta
        assert meta == {"group": "g", "route": "r", "topic": "t", "partition": 0, "offset": 0, "timestamp": 5,
                        "key": "k", "headers": {"trace": "x"}}

    def test_run_calls_the_handler_inline(self, tmp_path: Path) -> None:
        """job.run() and outcome.run() call the handler with the job's arguments and return its result."""
        routes = _routes(tmp_path, {"topic": "t", "handler": "h.handle"})
        outcome = routes.feed("t", {"n": 3})
        assert outcome.job().run() == {"n": 3}
        assert outcome.run() == [{"n": 3}]

    def test_dead_letters_name_kind_reason_and_every_route(self, tmp_path: Path) -> None:
        """Two routes rejecting alike make one dead letter naming both, as the daemon sends it."""
        schema = {"type": "object", "required": ["n"]}
        routes = _routes(tmp_path, {"name": "a", "topic": "t", "handler": "h.handle", "schema": schema,
                                    "dead_letter": "dlq"},
                         {"name": "b", "topic": "t", "handler": "h.handle", "schema": schema, "dead_letter": "dlq"})
        outcome = routes.feed("t", {"m": 1})
        assert outcome.jobs == [] and len(outcome.dead_letters) == 1
        letter = outcome.dead_letters[0]
        assert (letter.routes, letter.topic, letter.kind, letter.offset) == (("a", "b"), "dlq", "schema", 0)
        assert "required" in letter.reason
        assert outcome.decisions == {"a": "dead_letter schema", "b": "dead_letter schema"}

    def test_skips_say_why(self, tmp_path: Path) -> None:
        """Filtered, vetoed, tombstone and error skips are listed with their reason (and detail for errors)."""
        routes = _routes(tmp_path,
                         {"name": "f", "topic": "t", "handler": "h.handle", "filter": "params.n > 5",
                          "on_error": "skip"},
                         {"name": "v", "topic": "t", "handler": "h.handle", "before_enqueue": "h.even",
                          "on_error": "skip"})
        assert routes.feed("t", {"n": 1}).skipped == [Skip("g", "f", "filtered"), Skip("g", "v", "vetoed")]
        assert routes.feed("t", tombstone=True, key="k").decisions == {"f": "skip tombstone", "v": "skip tombstone"}
        broken = routes.feed("t", raw=b"{").skipped
        assert [(s.route, s.reason) for s in broken] == [("f", "error:decode"), ("v", "error:decode")]
        assert broken[0].detail.startswith("decode: invalid JSON")

    def test_a_hook_that_raises_is_a_dead_letter_not_an_exception(self, tmp_path: Path) -> None:
        """The hook is run as the daemon runs it: its exception becomes this message's outcome."""
        routes = _routes(tmp_path, {"topic": "t", "handler": "h.handle", "before_enqueue": "h.explode",
                                    "dead_letter": "dlq"})
        letter = routes.feed("t", {"n": 1}).dead_letters[0]
        assert letter.kind == "hook" and "ValueError: hook broke" in letter.reason

    def test_a_batch_route_makes_one_job_of_a_poll(self, tmp_path: Path) -> None:
        """feed_batch is one poll: a batch route gets one job with the list of params; others one job each."""
        routes = _routes(tmp_path, {"name": "all", "topic": "t", "handler": "h.handle", "batch": True},
                         {"name": "each", "topic": "t", "handler": "h.handle"})
        outcome = routes.feed_batch("t", [{"n": 1}, message({"n": 2}, key="k")])
        assert outcome.job("all").params == [{"n": 1}, {"n": 2}]
        assert [j.params for j in outcome.jobs if j.route == "each"] == [{"n": 1}, {"n": 2}]
        assert outcome.decisions == {"all": "enqueue", "each": "enqueue, enqueue"}

    def test_raw_decoding_reaches_the_worker_as_base64_text(self, tmp_path: Path) -> None:
        """decode: raw under the JSON serializer: params are base64 text, as a worker receives them."""
        routes = _routes(tmp_path, {"topic": "t", "handler": "h.handle", "decode": "raw"})
        assert routes.feed("t", raw=b"\x00\xff").job().params == "AP8="

    def test_job_asks_for_exactly_one(self, tmp_path: Path) -> None:
        """outcome.job() without exactly one job is an AssertionError that says what happened instead."""
        routes = _routes(tmp_path, {"name": "r", "topic": "t", "handler": "h.handle", "filter": "false"})
        with pytest.raises(AssertionError, match="expected one job, got 0; outcome: r: skip filtered"):
            routes.feed("t", {}).job()

    def test_a_topic_without_routes_is_an_error(self, tmp_path: Path) -> None:
        """Feeding a topic no route consumes is a LookupError listing the topics that have routes."""
        routes = _routes(tmp_path, {"topic": "t", "handler": "h.handle"})
        with pytest.raises(LookupError, match="no route consumes topic 'x'; topics with routes: t"):
            routes.feed("x", {})

    def test_a_broken_routes_file_is_refused_as_by_check(self, tmp_path: Path) -> None:
        """Routes(path) raises the ConfigError `karafkad check` would print."""
        path = tmp_path / "routes.yaml"
        path.write_text("groups: {}\n")
        with pytest.raises(ConfigError, match="must not be empty"):
            Routes(path)

    def test_the_example_routes_file(self) -> None:
        """config/routes.yaml loads; a big order is enqueued twice (orders and alerts), with meta for the alert."""
        routes = Routes(EXAMPLE, environ={})
        outcome = routes.feed("orders", {"id": 1, "customer": {"email": "a@b.c"}, "total": 1000, "currency": "EUR"})
        assert [(j.route, j.queue) for j in outcome.jobs] == [("orders", "orders"), ("big-orders", "alerts")]
        alert = outcome.job("big-orders")
        assert isinstance(alert, Job) and alert.meta["route"] == "big-orders"
        assert routes.topics() == ["audit-log", "orders", "page-views", "payments"]
