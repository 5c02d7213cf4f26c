"""The console put together on a running daemon: what its pages read and what its buttons do.

`karafkad start` calls `publish` always (every daemon tells the deployment's
consoles its status and its share of the history, from its maintenance
thread) and `console` when it serves HTTP. Everything a request reads comes
from the supervisor's current routes file (a reload changes the explorer and
the actions too) and its Redis clients; Kafka is read with a client of its
own per request.
"""

from __future__ import annotations

from redis import Redis

from karafkad.clients.kafka.reader import MessageReader
from karafkad.config.settings import RedisSettings
from karafkad.observability import Metrics
from karafkad.ops.dead_letter_reading import Page, browse
from karafkad.ops.dead_letters import Selection
from karafkad.ops.explorer import Explorer
from karafkad.ops.held import HeldOperations
from karafkad.routes.table import RouteTable
from karafkad.store import history, instances
from karafkad.supervision.maintenance import HISTORY_INTERVAL, PUBLISH_INTERVAL
from karafkad.supervision.supervisor import Supervisor
from karafkad.web.actions import Actions
from karafkad.web.app import Console, Sources
from karafkad.web.auth import Gate
from karafkad.web.board import StatusBoard
from karafkad.web.charts import History
from karafkad.web.deployment import Deployment
from karafkad.web.held import HeldFromOps
from karafkad.web.publishing import Publisher


def publish(supervisor: Supervisor, board: StatusBoard) -> Publisher:
    """Add the publishing and the history sampling to the supervisor's maintenance chores (before it starts)."""
    publisher = Publisher(supervisor.redis, board, supervisor.instance["name"])
    supervisor.maintenance.add("publish the status", PUBLISH_INTERVAL, publisher.publish, final=True)
    supervisor.maintenance.add("sample the history", HISTORY_INTERVAL, publisher.sample)
    return publisher


def console(supervisor: Supervisor, board: StatusBoard, metrics: Metrics) -> Console:
    """The console of this daemon's HTTP port."""

    def table() -> RouteTable:
        return supervisor.table

    def reader() -> MessageReader:
        return MessageReader(supervisor.table.config.kafka)

    def connect(settings: RedisSettings) -> Redis[bytes]:
        return supervisor.redises.client_for(settings, supervisor.table.config)

    def letters(selection: Selection) -> Page:
        opened = reader()
        try:
            return browse(supervisor.table, opened, connect, selection)
        finally:
            opened.close()

    def held_operations() -> HeldOperations:
        # Over the daemon's own clients (never closed here); the current routes file's ordered routes.
        return HeldOperations(supervisor.table, connect)

    held = HeldFromOps(held_operations)
    sources = Sources(
        status=board.snapshot, ready=supervisor.ready, registry=metrics.registry, why_not=supervisor.not_ready_reason,
        deployment=Deployment(lambda: instances.read_all(supervisor.redis)),
        history=History(lambda since, now: history.read(supervisor.redis, since, now)),
        table=table, explorer=Explorer(table, reader, connect), letters=letters,
        actions=Actions(table, supervisor.redis, connect, reader, held), held=held)
    return Console(sources, Gate(supervisor.table.config.web.auth))
