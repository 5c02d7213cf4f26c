"""The console's held keys: the keys of ordered routes held by a job that failed for good, and the two ways to
release one (retry its job, or skip it), as `karafkad held list|retry|skip` does.

The operations are the ops floor's (`karafkad.ops.held`, built beside this
console on another branch). The console works against the small `HeldOps`
interface below; `HeldFromOps` adapts the ops floor's HeldOperations to it.

MERGE ADAPTER: cli/start.py builds the console with `held=None` until
karafkad.ops.held is in the same branch; then it passes
`HeldFromOps(HeldOperations(table, connect))` (see cli/start.py, "MERGE").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from karafkad.times import clock
from karafkad.web.html import Viewer, action, empty, esc, fmt_duration, section, table


@dataclass(frozen=True)
class HeldRow:
    """One held key as the console shows it."""

    group: str
    route: str
    topic: str
    partition: int
    key: str
    """The key as people read it (karafkad.ops.held's `shown_key`)."""
    job_id: str
    failed_at: float
    """Seconds since the epoch; 0 when RQ did not say."""
    error: str
    waiting: str
    """Jobs waiting behind it (`3`, `100+`)."""


class HeldOps(Protocol):
    """What the console needs of the held-key operations."""

    def held_keys(self) -> list[HeldRow]: ...

    def retry(self, job_ids: Sequence[str], who: str) -> str:
        """Run the failed jobs again; what was done, in words (noted in the events list)."""
        ...

    def skip(self, job_ids: Sequence[str], who: str) -> str:
        """Run the keys' later jobs without the failed ones; what was done, in words."""
        ...


class HeldOperationsLike(Protocol):
    """karafkad.ops.held.HeldOperations, as far as the adapter uses it."""

    def listing(self, route: str | None = None) -> Any: ...

    def named(self, job_ids: Sequence[str]) -> tuple[list[Any], list[tuple[str, str]]]: ...

    def release(self, action: Any, keys: Sequence[Any]) -> Any: ...


class HeldFromOps:
    """MERGE ADAPTER: the ops floor's HeldOperations as the console's HeldOps."""

    def __init__(self, ops: HeldOperationsLike) -> None:
        self.ops = ops

    def held_keys(self) -> list[HeldRow]:
        return [HeldRow(k.group, k.route, k.topic, k.partition, k.shown_key, k.job_id, k.failed_at / 1000, k.error,
                        k.shown_waiting) for k in self.ops.listing().keys]

    def _release(self, verb: str, job_ids: Sequence[str], who: str) -> str:
        held, refused = self.ops.named(job_ids)
        outcome = self.ops.release(verb, held)
        said = [f"{outcome.summary()} by {who}"]
        said += [f"{job_id}: {why}" for job_id, why in [*refused, *outcome.refused]]
        return "; ".join(said)

    def retry(self, job_ids: Sequence[str], who: str) -> str:
        return self._release("retry", job_ids, who)

    def skip(self, job_ids: Sequence[str], who: str) -> str:
        return self._release("skip", job_ids, who)


def body(held: HeldOps | None, viewer: Viewer, now: float) -> str:
    """The held keys card."""
    if held is None:
        return section("Held keys", empty("Held keys are not available in this build of karafkad "
                                          "(karafkad held list|retry|skip)."))
    try:
        rows = held.held_keys()
    except Exception as exc:  # Redis down: the page says so, and the rest of the console still works
        return section("Held keys", f'<p class="empty bad">Cannot read the held keys<span class="sub">'
                                    f"{esc(type(exc).__name__)}: {esc(exc)}</span></p>")
    if not rows:
        return section("Held keys", empty("No key is held: every ordered route's keys flow.", "ok"))
    out = []
    for row in rows:
        fields = {"job": row.job_id}
        buttons = (action(viewer, "/actions/held-retry", "Retry", fields, tone="go")
                   + action(viewer, "/actions/held-skip", "Skip", fields, tone="danger",
                            confirm=f"Skip job {row.job_id}? The key's later jobs run without it."))
        when = (f'<span class="mono">{clock(row.failed_at)}</span><span class="sub">'
                f"{fmt_duration(max(now - row.failed_at, 0))} ago</span>" if row.failed_at else "—")
        out.append(f'<tr class="held" data-job="{esc(row.job_id)}"><td><b>{esc(row.route)}</b><span class="sub">'
                   f'group {esc(row.group)} · {esc(row.topic)}[{row.partition}]</span></td>'
                   f'<td class="mono">{esc(row.key)}</td><td class="mono">{esc(row.job_id)}'
                   f'<span class="sub">{esc(row.error)}</span></td><td class="when">{when}</td>'
                   f'<td class="num">{esc(row.waiting)}</td><td class="acts">{buttons}</td></tr>')
    head = ["Route", "Key", "Failed job", "Failed (UTC)", "#Waiting", ""]
    return section("Held keys", table(head, out, "problems"),
                   "retry runs the job again (the key goes on when it succeeds); skip runs the rest without it")
