"""times.py: times a user writes read one way, times shown written one way."""

from __future__ import annotations

import pytest

from karafkad.cli.parser import time_ms
from karafkad.config.settings import JobOptions
from karafkad.pipeline.schedule import due_at
from karafkad.times import clock, duration, epoch_ms, utc_ms

AT = 1_800_000_060_000
"""2027-01-15T08:01:00Z in milliseconds."""


class TestEpochMs:
    @pytest.mark.parametrize("written", [1_800_000_060, 1_800_000_060_000, 1_800_000_060.0, "1800000060",
                                         "1800000060000", "2027-01-15T08:01:00Z", "2027-01-15T08:01:00",
                                         "2027-01-15T09:01:00+01:00", " 2027-01-15T08:01:00Z "])
    def test_epoch_seconds_milliseconds_and_iso_times(self, written: int | float | str) -> None:
        """Seconds or milliseconds (told apart by size), as numbers or digit strings; ISO 8601, UTC without an
        offset."""
        assert epoch_ms(written) == AT

    def test_eight_digits_are_an_iso_date_not_epoch_seconds(self) -> None:
        """20270116 is 2027-01-16 (ISO 8601 basic), as Python reads it; nine digits or more are epoch seconds."""
        assert epoch_ms("20270116") == 1_800_057_600_000

    @pytest.mark.parametrize("written", ["tomorrow", "", float("nan"), float("inf"), -5])
    def test_what_is_not_a_time_is_a_value_error(self, written: float | str) -> None:
        """Words, NaN, infinities and negative numbers are refused."""
        with pytest.raises(ValueError):
            epoch_ms(written)

    @pytest.mark.parametrize("written", ["2027-01-15T08:01:00Z", "2027-01-15T08:01:00", "1800000060", "1800000060000"])
    def test_the_commands_and_job_at_read_times_by_this_one_rule(self, written: str) -> None:
        """--time, --since and --until (cli/parser.time_ms) read a time as a message's job.at field does."""
        assert time_ms(written) == AT
        assert due_at(JobOptions(at="params.when"), {"when": written}, 0.0) == AT // 1000


class TestShown:
    def test_a_record_timestamp_is_a_utc_date_and_time(self) -> None:
        """Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SSZ`; no timestamp (0 or less) is a dash."""
        assert utc_ms(AT) == "2027-01-15 08:01:00Z"
        assert (utc_ms(0), utc_ms(-1)) == ("-", "-")

    def test_a_clock_time_is_utc(self) -> None:
        """Seconds since the epoch as the UTC time of day."""
        assert clock(AT / 1000) == "08:01:00"

    @pytest.mark.parametrize(("seconds", "said"), [(0, "0 s"), (5.7, "5 s"), (125, "2 min 5 s"),
                                                   (7260, "2 h 1 min"), (90000, "1 d 1 h")])
    def test_a_duration_in_its_two_largest_units(self, seconds: float, said: str) -> None:
        """Uptime and ages: whole seconds, then minutes, hours, days."""
        assert duration(seconds) == said
