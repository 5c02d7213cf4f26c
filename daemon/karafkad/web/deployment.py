"""The whole deployment as one console shows it: every daemon's published snapshot, this one's fresh, summed.

Each daemon publishes its status board's snapshot (store/instances.py,
published by publishing.py on the maintenance thread); a console reads them
all at most once a second, whoever asks, and puts its own daemon's fresh
snapshot in place of the published one. The sums here (routes, topics,
queues, problems) are what the overview shows: a group's numbers over its
daemons, each partition with the daemon that holds it named.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from karafkad.config.secrets import registry
from karafkad.store.instances import Instance
from karafkad.web.board import ThrottledRead

Snapshot = Mapping[str, Any]
"""A status board snapshot (board.py), as a daemon publishes it."""


@dataclass(frozen=True)
class Member:
    """One daemon of the deployment."""

    name: str
    seen_at: float
    snapshot: Snapshot | None
    """None: it stopped publishing (gone)."""
    own: bool = False
    """The daemon serving this console."""

    @property
    def gone(self) -> bool:
        return self.snapshot is None


@dataclass(frozen=True)
class DeploymentView:
    """What the overview shows: the members (this daemon among them), and whether Redis could tell."""

    own: Snapshot
    members: list[Member]
    error: str | None = None
    """Why the other daemons are not shown (Redis could not be read), or None."""
    operations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def live(self) -> list[tuple[str, Snapshot]]:
        """(name, snapshot) of every daemon still publishing, this one first."""
        return [(m.name, m.snapshot) for m in self.members if m.snapshot is not None]


def single(snapshot: Snapshot) -> DeploymentView:
    """A deployment of one daemon (its own snapshot only)."""
    name = str(snapshot.get("instance", {}).get("name", "this daemon"))
    return DeploymentView(snapshot, [Member(name, float(snapshot.get("generated_at") or 0.0), snapshot, own=True)],
                          operations=list(snapshot.get("operations", [])))


class Deployment:
    """The deployment's daemons, read from Redis at most once per interval whoever asks."""

    def __init__(self, read: Callable[[], list[Instance]], clock: Callable[[], float] = time.monotonic) -> None:
        self.read = read
        self._reads: ThrottledRead[tuple[()], tuple[list[Instance], str | None]] = ThrottledRead(clock=clock)

    def view(self, own: Snapshot) -> DeploymentView:
        """The members, with `own` (this daemon's fresh snapshot) in place of what it published."""
        found, error = self._reads.get((), lambda _: (self.read(), None),
                                       lambda exc: ([], registry.mask(str(exc) or type(exc).__name__)))
        name = str(own.get("instance", {}).get("name", "this daemon"))
        members = [Member(i.name, i.seen_at, i.snapshot) for i in found if i.name != name]
        members.append(Member(name, float(own.get("generated_at") or time.time()), own, own=True))
        members.sort(key=lambda m: (m.gone, not m.own, m.name))
        return DeploymentView(own, members, error, list(own.get("operations", [])))


# --- sums over the daemons --------------------------------------------------------------------------------------


def _add(into: dict[str, float], parts: Mapping[str, float]) -> None:
    for key, value in parts.items():
        into[key] = into.get(key, 0.0) + value


def routes(live: Sequence[tuple[str, Snapshot]]) -> list[dict[str, Any]]:
    """Each (group, route) once, its counts and rates summed over the daemons that run it (a rate is None until
    one of them knows it)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for instance, snap in live:
        for r in snap.get("routes", []):
            key = (r["group"], r["name"])
            into = out.get(key)
            if into is None:
                into = out[key] = {**r, "consumed": 0.0, "enqueued": 0.0, "skipped": {}, "dead_lettered": {},
                                   "rates": None, "instances": []}
            into["instances"].append(instance)
            into["consumed"] += r.get("consumed", 0.0)
            into["enqueued"] += r.get("enqueued", 0.0)
            _add(into["skipped"], r.get("skipped", {}))
            _add(into["dead_lettered"], r.get("dead_lettered", {}))
            if r.get("rates") is not None:
                into["rates"] = into["rates"] or {}
                _add(into["rates"], r["rates"])
    return list(out.values())


def partitions(live: Sequence[tuple[str, Snapshot]]) -> list[dict[str, Any]]:
    """Every partition of every daemon, with the daemon named (`instance`), by group, topic and partition."""
    found = [{**p, "instance": instance} for instance, snap in live for p in snap.get("partitions", [])]
    return sorted(found, key=lambda p: (p["group"], p["topic"], p["partition"], p["instance"]))


def topics(live: Sequence[tuple[str, Snapshot]]) -> list[dict[str, Any]]:
    """Each (group, topic): consumed, redelivered and the rate, summed over the daemons."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for _, snap in live:
        for t in snap.get("topics", []):
            into = out.setdefault((t["group"], t["topic"]), {**t, "consumed": 0.0, "redelivered": 0.0,
                                                              "rate": None})
            into["consumed"] += t.get("consumed", 0.0)
            into["redelivered"] += t.get("redelivered", 0.0)
            if t.get("rate") is not None:
                into["rate"] = (into["rate"] or 0.0) + t["rate"]
    return [out[k] for k in sorted(out)]


def queues(live: Sequence[tuple[str, Snapshot]]) -> tuple[dict[str, int] | None, str | None]:
    """Jobs waiting per RQ queue (the latest reading of the daemons that read it), or None and why, when no
    daemon could read one."""
    depths: dict[str, int] = {}
    errors = []
    for _, snap in sorted(live, key=lambda item: float(item[1].get("generated_at") or 0.0)):
        read = snap.get("queues", {})
        if read.get("depths") is None:
            errors.append(read.get("error") or "not read yet")
        else:
            depths.update(read["depths"])
    if not depths and errors:
        return None, errors[-1]
    return depths, None


def problems(live: Sequence[tuple[str, Snapshot]]) -> list[dict[str, Any]]:
    """Every daemon's recent problems, the newest first, each with its daemon named (`instance`)."""
    found = [{**p, "instance": instance} for instance, snap in live for p in snap.get("recent", [])]
    return sorted(found, key=lambda p: -float(p.get("time", 0)))


def held_keys(live: Sequence[tuple[str, Snapshot]]) -> dict[str, Any]:
    """The held keys the daemons looked at (supervision/held_watch.py), each route's from the newest look of a
    daemon that runs it (a key released since an older look is gone): the keys, when the newest look was, why a
    Redis was not read then, and the failed jobs left unread."""
    out: dict[str, Any] = {"keys": [], "scanned_at": None, "error": None, "unread": {}}
    keys: dict[tuple[str, str], list[dict[str, Any]]] = {}
    looks = [(snap.get("held_keys") or {}, snap.get("routes", [])) for _, snap in live]
    for look, routes_ in sorted(looks, key=lambda item: float(item[0].get("scanned_at") or 0.0)):
        if look.get("scanned_at") is None:
            continue
        for r in routes_:
            keys[(r["group"], r["name"])] = []
        for key in look.get("keys", []):
            keys.setdefault((key["group"], key["route"]), []).append(key)
        out.update(scanned_at=look["scanned_at"], error=look.get("error"))
        out["unread"].update(look.get("unread", {}))
    out["keys"] = [key for route in sorted(keys) for key in keys[route]]
    return out
