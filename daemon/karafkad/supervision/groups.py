"""The consumer threads of one group: started together, stopped together, watched by the supervisor."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from karafkad.consuming.consumer import ConsumerThread
from karafkad.consuming.services import Services
from karafkad.routes.table import GroupRoutes


class GroupRunner:
    """The consumer threads of one group."""

    def __init__(self, routes: GroupRoutes, services: Services) -> None:
        self.routes = routes
        self.stop_event = threading.Event()
        self.threads = [
            ConsumerThread(routes.spec, i, self.current_routes, services, self.stop_event)
            for i in range(routes.spec.threads)
        ]

    def current_routes(self) -> GroupRoutes:
        return self.routes

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def begin_stop(self, deadline: float) -> None:
        for thread in self.threads:
            thread.drain_deadline = deadline
        self.stop_event.set()

    def join(self, deadline: float, tick: Callable[[], None] | None = None) -> bool:
        """Wait for the threads until `deadline`, calling `tick` (the watchdog) every 0.5 s meanwhile."""
        for thread in self.threads:
            while thread.is_alive() and time.monotonic() < deadline:
                thread.join(min(0.5, max(deadline - time.monotonic(), 0)))
                if tick is not None:
                    tick()
        return not any(t.is_alive() for t in self.threads)

    def joined(self) -> bool:
        return all(t.joined.is_set() for t in self.threads)
