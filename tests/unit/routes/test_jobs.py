"""rqjobs.py: job ids, templates and the data encoding RQ reads back."""

from __future__ import annotations

import json
import pickle
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from karafkad.config.settings import JobOptions
from karafkad.routes.jobs import SMALL_PAYLOAD, VARYING_FIELDS, build_template, deflate, job_id_prefix
from karafkad.tracing.context import TraceContext


class TestJobIdPrefix:
    def test_only_characters_rq_allows(self) -> None:
        """Topic names may contain dots; RQ ids may not."""
        prefix = job_id_prefix("billing", "orders.v2", "r")
        assert prefix.startswith("kd-orders_v2-")
        assert all(c.isalnum() or c in "_-" for c in prefix)

    def test_distinct_names_never_share_a_prefix(self) -> None:
        """`a.b` and `a_b` sanitise alike but the hash keeps them apart; so do groups and routes."""
        prefixes = {job_id_prefix("g", "a.b", "r"), job_id_prefix("g", "a_b", "r"),
                    job_id_prefix("h", "a.b", "r"), job_id_prefix("g", "a.b", "s")}
        assert len(prefixes) == 4


class TestDeflate:
    @pytest.mark.parametrize("size", [0, 1, 300, SMALL_PAYLOAD - 1, SMALL_PAYLOAD, 70_000])
    def test_zlib_reads_it_back(self, size: int) -> None:
        """Small payloads are a hand-built stored zlib stream, large ones compressed: zlib reads both."""
        payload = bytes(i % 251 for i in range(size))
        assert zlib.decompress(deflate(payload)) == payload

    def test_small_payloads_are_not_compressed(self) -> None:
        """A stored stream is the payload plus 11 bytes of framing."""
        assert len(deflate(b"x" * 300)) == 311


class TestTemplate:
    def test_json_data_is_the_call_rq_expects(self) -> None:
        """data decodes to [func_name, None, args, {}] in JSON, no pickle."""
        template = build_template("q", "orders.process", JobOptions())
        data = zlib.decompress(template.encode([{"n": 1}]))
        assert json.loads(data) == ["orders.process", None, [{"n": 1}], {}]

    def test_integers_beyond_64_bits_stay_exact(self) -> None:
        """orjson refuses them; the JSON fallback keeps every digit."""
        template = build_template("q", "f.g", JobOptions())
        data = zlib.decompress(template.encode([{"n": 10**30}]))
        assert json.loads(data)[2][0]["n"] == 10**30

    def test_pickle_only_when_asked(self) -> None:
        """serializer: pickle encodes with pickle (and the data is not JSON)."""
        template = build_template("q", "f.g", JobOptions(serializer="pickle"))
        assert pickle.loads(zlib.decompress(template.encode([b"raw"])))[2] == [b"raw"]  # noqa: S301 - our own bytes

    def test_template_holds_no_varying_fields(self) -> None:
        """The per-route template leaves out exactly the fields each job sets itself."""
        template = build_template("q", "f.g", JobOptions(timeout=5, retry_max=2, retry_intervals=(1, 2)))
        assert not set(VARYING_FIELDS) & set(template.fields)
        assert template.fields["origin"] == "q" and int(template.fields["timeout"]) == 5
        assert template.rq_job is None

    def test_exact_mode_builds_each_hash_with_rq(self) -> None:
        """Outside the compared RQ range every job's hash comes from RQ's own Job class."""
        template = build_template("q", "f.g", JobOptions(), exact=True)
        assert template.rq_job is not None
        fields = template.rq_job([{"n": 1}], "desc", False)
        assert fields["description"] == "desc" and "data" in fields and fields["status"] == "queued"
        scheduled = template.rq_job([{"n": 1}], "desc", True)
        assert scheduled["status"] == "scheduled" and "enqueued_at" not in scheduled

    def test_a_template_knows_the_fields_of_a_job_due_later(self) -> None:
        """As RQ's enqueue_at saves them: status scheduled, no enqueued_at (store/keys.py names the registry)."""
        template = build_template("q", "f.g", JobOptions())
        assert template.fields["status"] == "queued" and template.scheduled_fields["status"] == "scheduled"
        assert set(template.fields) - set(template.scheduled_fields) == set()

    @pytest.mark.parametrize("serializer", ["json", "pickle"])
    def test_a_trace_context_s_meta_field_is_what_rq_writes_for_that_meta(self, serializer: str) -> None:
        """The `meta` field RQ's Job.to_dict writes for Queue.enqueue(meta=the context's W3C keys)."""
        from redis import Redis
        from rq import Queue
        from rq.serializers import JSONSerializer, PickleSerializer

        context = TraceContext("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "a=1", "user=42")
        rq_serializer = JSONSerializer if serializer == "json" else PickleSerializer
        queue = Queue("q", connection=Redis(), serializer=rq_serializer)  # never connects: nothing is sent
        theirs = queue.create_job("f.g", meta=context.carrier()).to_dict()["meta"]
        assert build_template("q", "f.g", JobOptions(serializer=serializer)).meta_field(context) == theirs


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


class TestEncodeJsonText:
    """A JSON route's job carries the message's own text as params: a worker must read the same call."""

    @given(JSON_VALUES, st.sampled_from([None, 0, 2]), st.booleans())
    def test_a_worker_reads_what_a_fresh_serialization_gives(self, value: object, indent: int | None,
                                                              with_meta: bool) -> None:
        """For any JSON text (any spacing, escapes, big integers), with or without meta, the call a worker
        decodes equals the one encode() makes of the decoded params."""
        template = build_template("q", "orders.process", JobOptions())
        text = json.dumps(value, indent=indent, ensure_ascii=indent is None).encode()
        meta = {"topic": "t", "offset": 3} if with_meta else None
        args = [json.loads(text), meta] if with_meta else [json.loads(text)]
        assert template.decode(template.encode_json_text(text, meta)) == template.decode(template.encode(args))

    def test_large_texts_are_compressed_like_any_payload(self) -> None:
        """Past SMALL_PAYLOAD the call is compressed, as encode() does."""
        template = build_template("q", "f.g", JobOptions())
        text = json.dumps({"blob": "x" * 10_000}).encode()
        data = template.encode_json_text(text)
        assert len(data) < 1000 and template.decode(data) == [{"blob": "x" * 10_000}]

    def test_the_call_names_the_handler_as_json(self) -> None:
        """A handler path is written as a JSON string, the way json.dumps would."""
        template = build_template("q", "orders.process", JobOptions())
        assert json.loads(zlib.decompress(template.encode_json_text(b"[1]"))) == ["orders.process", None, [[1]], {}]
