"""outcomes.py: a pending job's id and description follow from its naming and offset, unless it carries its own."""

from __future__ import annotations

from karafkad.config.settings import JobOptions
from karafkad.pipeline.outcomes import JobNaming, PendingJob
from karafkad.routes.jobs import build_template

TEMPLATE = build_template("q", "orders.process", JobOptions())


class TestPendingJob:
    def test_id_and_description_are_the_namings_with_the_offset(self) -> None:
        """`id_head + offset + id_tail`, `description_head + offset`."""
        naming = JobNaming("r", TEMPLATE, "kd-orders-abc-3-", "-r2", "orders.process <- orders[3]@")
        job = PendingJob(naming, 41, TEMPLATE.encode([{"n": 1}]))
        assert job.job_id == "kd-orders-abc-3-41-r2"
        assert job.description == "orders.process <- orders[3]@41"
        assert job.route == "r" and job.template is TEMPLATE and job.args == [{"n": 1}]

    def test_a_job_carrying_its_own_id_and_description_keeps_them(self) -> None:
        """A batch route's job (or a re-driven one) carries both itself."""
        naming = JobNaming("r", TEMPLATE, "", own_ids=True, own_descriptions=True)
        job = PendingJob(naming, 9, b"", own_id="kd-x-0-1-9", own_description="several")
        assert (job.job_id, job.description) == ("kd-x-0-1-9", "several")

    def test_renumbered_keeps_id_description_and_call(self) -> None:
        """A re-driven dead letter's job is deduplicated by another offset; nothing a worker sees changes (its
        trace context included)."""
        naming = JobNaming("r", TEMPLATE, "kd-orders-abc-3-", "-d0_17", "orders.process <- orders[3]@", timed=True)
        job = PendingJob(naming, 41, TEMPLATE.encode([{"n": 1}]), at=5, meta=b'{"traceparent": "x"}')
        moved = job.renumbered(17)
        assert moved.offset == 17 and moved.at == 5 and moved.data == job.data and moved.meta == job.meta
        assert (moved.job_id, moved.description) == (job.job_id, job.description)
        assert moved.naming.own_ids and moved.naming.own_descriptions and moved.naming.timed
