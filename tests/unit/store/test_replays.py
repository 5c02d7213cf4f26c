"""store/replays.py: a replay window, as karafkad stores it in Redis and reads it back."""

from __future__ import annotations

from karafkad.store.replays import ReplayWindow


def _stored(window: ReplayWindow) -> dict[bytes, bytes]:
    """The hash as Redis gives it back (bytes)."""
    return {k.encode(): v.encode() for k, v in window.encode().items()}


class TestReplayWindow:
    def test_a_window_reads_back_as_it_was_written(self) -> None:
        """Generation, offsets and routes survive the hash; no routes (all of them) too."""
        for window in (ReplayWindow(3, 10, 20, ("a", "b")), ReplayWindow(1, 0, 5)):
            assert ReplayWindow.decode(_stored(window)) == window

    def test_its_mark_and_ids_are_named_after_its_generation(self) -> None:
        """Replay 7 dedupes under stream r7 and ends its jobs' ids with -r7 (never the first run's ids)."""
        window = ReplayWindow(7, 0, 5)
        assert (window.stream, window.id_suffix) == ("r7", "-r7")

    def test_a_hash_karafkad_did_not_write_is_none(self) -> None:
        """A missing field or a value that is not a number: None, not an exception."""
        stored = _stored(ReplayWindow(3, 10, 20))
        assert ReplayWindow.decode({k: v for k, v in stored.items() if k != b"end"}) is None
        assert ReplayWindow.decode({**stored, b"start": b"ten"}) is None
        assert ReplayWindow.decode({**stored, b"routes": b"\xff"}) is None
