"""The console's actions: each the same operation as its command, on the ops floor.

| POST path               | command                                   |
|-------------------------|-------------------------------------------|
| /actions/pause          | karafkad pause --route R / --partition T:N |
| /actions/resume         | karafkad resume ...                       |
| /actions/redrive        | karafkad dead-letters redrive --at PLACE   |
| /actions/held-retry     | karafkad held retry JOB                   |
| /actions/held-skip      | karafkad held skip JOB                    |

Who may call them, and the CSRF checks, are app.py's and auth.py's; here a
form's fields become the operation's arguments, and its answer a `Done`
(what was done, in words) or a `Refused` (why not, and the HTTP status).
Every operation notes itself in the events list with `who`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from redis import Redis

from karafkad.clients.kafka.reader import MessageReader
from karafkad.config.settings import RedisSettings
from karafkad.ops import pauses
from karafkad.ops.dead_letter_reading import letters_at, parse_place
from karafkad.ops.dead_letters import redrive
from karafkad.routes.table import RouteTable
from karafkad.store.pauses import PauseTarget
from karafkad.web.held import HeldOps

Form = Mapping[str, Sequence[str]]
"""A POST's fields (each may be repeated)."""


@dataclass(frozen=True)
class Done:
    message: str


@dataclass(frozen=True)
class Refused:
    reason: str
    status: int = 400


Outcome = Done | Refused


def _one(form: Form, name: str) -> str:
    values = form.get(name) or [""]
    return values[0].strip()


class Actions:
    """The operations behind the console's buttons, for the running daemon's routes file."""

    def __init__(self, table: Callable[[], RouteTable], client: Redis[bytes],
                 connect: Callable[[RedisSettings], Redis[bytes]], reader: Callable[[], MessageReader],
                 held: HeldOps) -> None:
        """`client`: the top-level Redis (pauses, events); `connect`: a client for each group's Redis."""
        self.table = table
        self.client = client
        self.connect = connect
        self.reader = reader
        self.held = held

    def handlers(self) -> Mapping[str, Callable[[Form, str], Outcome]]:
        """POST path -> the action."""
        return {"/actions/pause": self.pause, "/actions/resume": self.resume, "/actions/redrive": self.redrive,
                "/actions/held-retry": self.held_retry, "/actions/held-skip": self.held_skip}

    def _target(self, form: Form) -> PauseTarget | Refused:
        table = self.table()
        group = _one(form, "group") or None
        route, topic, partition = _one(form, "route"), _one(form, "topic"), _one(form, "partition")
        if route:
            found = pauses.route_target(table, route, group)
        elif topic and partition.isdigit():
            found = pauses.partition_target(table, topic, int(partition), group)
        else:
            return Refused("name a route, or a topic and a partition number")
        return Refused(found.reason) if isinstance(found, pauses.Refused) else found

    def pause(self, form: Form, who: str) -> Outcome:
        target = self._target(form)
        if isinstance(target, Refused):
            return target
        return Done(pauses.pause(self.client, self.table(), target, who))

    def resume(self, form: Form, who: str) -> Outcome:
        target = self._target(form)
        if isinstance(target, Refused):
            # A pause of a route since removed from the file must still be resumable: by its own fields.
            group, route = _one(form, "group"), _one(form, "route")
            if not (group and route):
                return target
            target = PauseTarget(group, route=route)
        return Done(pauses.resume(self.client, target, who))

    def redrive(self, form: Form, who: str) -> Outcome:
        """Re-drive the dead letters at the places chosen (`at`), for `route` only when given."""
        places = [parse_place(text) for text in form.get("at", [])]
        if not places:
            return Refused("choose the dead letters to re-drive")
        if None in places:
            return Refused("a dead letter's place is TOPIC:PARTITION:OFFSET")
        table = self.table()
        route = _one(form, "route")
        reader = self.reader()
        try:
            letters, missing = letters_at(reader, [p for p in places if p is not None])
        finally:
            reader.close()
        if not letters:
            return Refused("; ".join(missing) or "no dead letter there", 404)
        report = redrive(table, self.connect, letters, routes=(route,) if route else (), who=who)
        said = [report.summary()]
        said += [f"still failing, kept: {f.letter.where}: {f.reason}" for f in report.failing]
        said += [f"not re-driven: {letter.where}: {why}" for letter, why in report.orphans]
        said += missing
        return Done("; ".join(said))

    def _held(self, form: Form) -> list[str] | Refused:
        jobs = [j.strip() for j in form.get("job", []) if j.strip()]
        return jobs or Refused("name the failed job (its id)")

    def held_retry(self, form: Form, who: str) -> Outcome:
        jobs = self._held(form)
        return jobs if isinstance(jobs, Refused) else Done(self.held.retry(jobs, who))

    def held_skip(self, form: Form, who: str) -> Outcome:
        jobs = self._held(form)
        return jobs if isinstance(jobs, Refused) else Done(self.held.skip(jobs, who))
