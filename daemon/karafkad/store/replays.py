"""Replays on purpose: which offsets of a partition are being consumed again, for which routes, under which ids.

`karafkad replay` moves a group's committed offsets back and writes, per
partition, a replay window to Redis: the offsets from where the replay
starts up to where the group had got (everything handled before), the routes
to run again (all, or those named), and a generation number. The consumer
reads the window with the partition's marks: a record inside it goes through
the chosen routes only, its jobs get ids ending in `-rN` (never the first
run's, so the original jobs are untouched), and it is deduplicated by a mark
of its own (`karafkad:mark:...:rN`), so a crash during the replayed run is
as safe as any other. Past the window, consumption is as usual. Its keys are
named in keys.py; marks.py reads a window with the partition's marks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from karafkad.store.keys import replay_stream


@dataclass(frozen=True)
class ReplayWindow:
    """Offsets [start, end) of one partition, consumed again for `routes` (all when empty) as replay N."""

    generation: int
    start: int
    end: int
    routes: tuple[str, ...] = ()

    @property
    def stream(self) -> str:
        """The stream of its dedupe mark (see keys.mark_key)."""
        return replay_stream(self.generation)

    @property
    def id_suffix(self) -> str:
        """What ends its jobs' ids."""
        return f"-r{self.generation}"

    def encode(self) -> dict[str, str]:
        return {"generation": str(self.generation), "start": str(self.start), "end": str(self.end),
                "routes": ",".join(self.routes)}

    @classmethod
    def decode(cls, fields: Mapping[bytes, bytes]) -> ReplayWindow | None:
        """The window stored in Redis, or None (none there, or not one karafkad wrote)."""
        try:
            routes = fields[b"routes"].decode()
            return cls(int(fields[b"generation"]), int(fields[b"start"]), int(fields[b"end"]),
                       tuple(r for r in routes.split(",") if r))
        except (KeyError, ValueError, UnicodeDecodeError):
            return None
