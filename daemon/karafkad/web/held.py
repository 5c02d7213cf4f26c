"""The console's held keys: the keys of ordered routes held by a job that failed for good, and the two ways to
release one (retry its job, or skip it), as `karafkad held list|retry|skip` does.

The operations are the ops floor's (`karafkad.ops.held`): the console works
against the small `HeldOps` interface below, and `HeldFromOps` makes one from
HeldOperations, built afresh for each request from the daemon's current routes
file (a reload changes the routes looked at) over the daemon's own Redis
clients. The overview's card (`card`) reads the daemons' last looks instead
(supervision/held_watch.py), so a page load costs Redis nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from karafkad.ops.held import Action, Listing, Outcome
from karafkad.store.held import HeldKey
from karafkad.text import plural
from karafkad.times import clock
from karafkad.web import deployment
from karafkad.web.deployment import DeploymentView
from karafkad.web.html import Viewer, action, empty, esc, fmt_count, fmt_duration, section, table


@dataclass(frozen=True)
class HeldRow:
    """One held key as the console shows it."""

    group: str
    route: str
    topic: str
    partition: int
    key: str
    """The key as people read it (HeldKey.shown_key)."""
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
    """karafkad.ops.held.HeldOperations, as far as the console uses it."""

    def listing(self, route: str | None = None) -> Listing: ...

    def named(self, job_ids: Sequence[str]) -> tuple[list[HeldKey], list[tuple[str, str]]]: ...

    def release(self, action: Action, keys: Sequence[HeldKey], who: str | None = None) -> Outcome: ...


class HeldFromOps:
    """The ops floor's HeldOperations as the console's HeldOps: `operations` makes one for the current routes."""

    def __init__(self, operations: Callable[[], HeldOperationsLike]) -> None:
        self.operations = operations

    def held_keys(self) -> list[HeldRow]:
        return [HeldRow(k.group, k.route, k.topic, k.partition, k.shown_key, k.job_id, k.failed_at / 1000, k.error,
                        k.shown_waiting) for k in self.operations().listing().keys]

    def _release(self, verb: Action, job_ids: Sequence[str], who: str) -> str:
        ops = self.operations()
        held, refused = ops.named(job_ids)
        outcome = ops.release(verb, held, who)
        said = [f"{outcome.summary()} by {who}"]
        said += [f"{job_id}: {why}" for job_id, why in [*refused, *outcome.refused]]
        return "; ".join(said)

    def retry(self, job_ids: Sequence[str], who: str) -> str:
        return self._release("retry", job_ids, who)

    def skip(self, job_ids: Sequence[str], who: str) -> str:
        return self._release("skip", job_ids, who)


def _buttons(viewer: Viewer, job_id: str) -> str:
    fields = {"job": job_id}
    return (action(viewer, "/actions/held-retry", "Retry", fields, tone="go")
            + action(viewer, "/actions/held-skip", "Skip", fields, tone="danger",
                     confirm=f"Skip job {job_id}? The key's later jobs run without it."))


def card(view: DeploymentView, viewer: Viewer, now: float) -> str:
    """The overview's held keys card, from the daemons' last looks (no Redis call of its own); none when no route
    is ordered (nothing can be held). Not the partitions held at a batch the client cannot read: those are the
    consumer groups'."""
    if not any(r.get("ordering", "none") != "none" for r in deployment.routes(view.live)):
        return ""
    held = deployment.held_keys(view.live)
    scanned = held["scanned_at"]
    notes = [f"looked {fmt_duration(max(now - scanned, 0))} ago" if scanned else "not looked yet"]
    if held["error"]:
        notes.append(f'<span class="bad">{esc(held["error"])}</span>')
    for queue, count in sorted(held["unread"].items()):
        notes.append(f"queue {esc(queue)}: {plural(count, 'older failed job')} not read")
    note = " · ".join(notes)
    if not held["keys"]:
        return section("Held keys", empty("No key is held." if scanned else "Not looked yet.",
                                          "ok" if scanned else ""), note)
    rows = []
    for key in held["keys"]:
        waiting = f'{fmt_count(key["waiting"])}{"" if key.get("counted_all", True) else "+"}'
        rows.append(f'<tr data-group="{esc(key["group"])}" data-route="{esc(key["route"])}" '
                    f'data-job="{esc(key["job"])}"><td><b>{esc(key["route"])}</b>'
                    f'<span class="sub">group {esc(key["group"])}</span></td>'
                    f'<td><span class="mono">{esc(key["key"])}</span><span class="sub">{esc(key["topic"])}'
                    f'[{esc(key["partition"])}]</span></td>'
                    f'<td><span class="mono">{esc(key["job"])}</span><span class="sub">failed '
                    f'{esc(key["failed_at"] or "—")}</span></td>'
                    f'<td class="message">{esc(key["error"] or "—")}</td>'
                    f'<td class="num" data-field="waiting"><span class="count">{waiting}</span></td>'
                    f'<td class="acts">{_buttons(viewer, key["job"])}</td></tr>')
    head = ["Route", "Key", "Failed job", "Error", "#Waiting", ""]
    hint = ('<p class="hint">A held key\'s later jobs wait until it is retried (the failed job runs again, then the '
            'rest in order) or skipped (the rest run without it): here, on the <a href="/held">held keys</a> page, '
            'or with <code>karafkad held retry JOB</code> and <code>karafkad held skip JOB</code>.</p>')
    return section("Held keys", table(head, rows, "held") + hint, note, "alert")


def body(held: HeldOps | None, viewer: Viewer, now: float) -> str:
    """The held keys card."""
    if held is None:
        return section("Held keys", empty("This console does not read the held keys "
                                          "(karafkad held list|retry|skip does)."))
    try:
        rows = held.held_keys()
    except Exception as exc:  # Redis down: the page says so, and the rest of the console still works
        return section("Held keys", f'<p class="empty bad">Cannot read the held keys<span class="sub">'
                                    f"{esc(type(exc).__name__)}: {esc(exc)}</span></p>")
    if not rows:
        return section("Held keys", empty("No key is held: every ordered route's keys flow.", "ok"))
    out = []
    for row in rows:
        buttons = _buttons(viewer, row.job_id)
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
