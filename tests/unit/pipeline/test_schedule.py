"""pipeline/schedule.py: when a job is due."""

from __future__ import annotations

import pytest

from karafkad.config.settings import JobOptions
from karafkad.pipeline.schedule import NotATime, due_at

NOW = 1_800_000_000.0


class TestDueAt:
    def test_no_delay_and_no_at_is_now(self) -> None:
        """0 means "enqueue now"."""
        assert due_at(JobOptions(), {"a": 1}, NOW) == 0

    @pytest.mark.parametrize(("value", "due"), [(1_800_000_060, 1_800_000_060), (1_800_000_060_000, 1_800_000_060),
                                                (1_700_000_000, 0), ("2027-01-15T08:01:00Z", 1_800_000_060),
                                                ("2027-01-15T08:01:00", 1_800_000_060),
                                                ("2027-01-15T09:01:00+01:00", 1_800_000_060),
                                                ("1800000060", 1_800_000_060), (1_800_000_060.5, 1_800_000_060),
                                                ("20270116", 1_800_057_600)])
    def test_at_reads_epoch_seconds_milliseconds_and_iso_times(self, value: object, due: int) -> None:
        """A past time is now; a time without an offset is UTC; epoch seconds may come as a string of nine digits
        or more (eight are an ISO 8601 basic date, 2027-01-16)."""
        assert due_at(JobOptions(at="params.when"), {"when": value}, NOW) == due

    @pytest.mark.parametrize("params", [{}, {"when": None}, {"when": "tomorrow"}, {"when": float("nan")},
                                        {"when": -5}, {"when": True}, "not a mapping"])
    def test_what_is_not_a_time_is_refused_with_the_field_named(self, params: object) -> None:
        """NotATime names the field (the pipeline dead-letters the message with it)."""
        with pytest.raises(NotATime, match=r"params\.when"):
            due_at(JobOptions(at="params.when"), params, NOW)


