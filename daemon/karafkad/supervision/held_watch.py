"""The daemon's look at held keys, every HELD_SCAN_INTERVAL on a thread of its own: the metric and the status page.

A held key (store/held.py) waits for an operator (`karafkad held retry|skip`); the daemon only shows it: the
gauge karafkad_held_keys{group,route}, the status page's "Held keys", and a log line when a key becomes held or
is released. The scan reads each ordered route's failed jobs from the route's Redis in a few round trips; it runs
here, beside the main loop and never on a consumer thread, so a slow or unreachable Redis delays nothing else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeAlias

from redis import Redis

from karafkad import defaults
from karafkad.config.settings import RedisSettings
from karafkad.errors import EnqueueError
from karafkad.observability import Metrics, get_logger
from karafkad.routes.table import Route
from karafkad.store.held import HeldKey, find_held
from karafkad.supervision.status import HeldKeysStatus

log = get_logger(__name__)

Source: TypeAlias = "tuple[Redis[bytes], RedisSettings, Sequence[Route]]"  # a string: Redis is generic to mypy only
"""A Redis and the ordered routes whose jobs it holds."""
LOGGED_PER_SCAN = 10
"""Keys named one by one in the log per scan (held, or released); the rest are counted in one line: a bug that
fails every key's job at once must not flood the log."""


class HeldWatch:
    """Scans for held keys now and then; keeps the last answer for the status page and sets the gauge."""

    def __init__(self, sources: Callable[[], list[Source]], metrics: Metrics,
                 interval: float = defaults.HELD_SCAN_INTERVAL, wall: Callable[[], float] = time.time) -> None:
        """`sources` gives the current ordered routes by Redis (a reload may change them)."""
        self.sources = sources
        self.metrics = metrics
        self.interval = interval
        self.wall = wall
        self._lock = threading.Lock()
        self._status: HeldKeysStatus = {"keys": [], "scanned_at": None, "error": None, "unread": {}}
        self._held: dict[str, HeldKey] = {}
        self._labelled: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="held-keys", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop scanning (a scan under way finishes on its own: the thread is a daemon thread)."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan()
            except Exception:  # a bug here must not end the scans for the daemon's life; it is logged with its stack
                log.exception("looking for held keys failed")
            self._stop.wait(self.interval)

    def status(self) -> HeldKeysStatus:
        """The last scan's answer (no keys and no time before the first)."""
        with self._lock:
            return {**self._status, "keys": list(self._status["keys"]), "unread": dict(self._status["unread"])}

    def scan(self) -> None:
        """Look once: every Redis of the ordered routes; one that fails keeps its routes' last numbers."""
        keys: list[HeldKey] = []
        unread: dict[str, int] = {}
        errors: list[str] = []
        counts: dict[tuple[str, str], int] = {}
        kept: set[tuple[str, str]] = set()
        for client, settings, routes in self.sources():
            names = {(route.spec.group, route.name) for route in routes}
            try:
                found = find_held(client, routes, settings)
            except EnqueueError as exc:
                errors.append(str(exc))
                kept |= names
                keys += [key for key in self._held.values() if (key.group, key.route) in names]
                continue
            counts.update(dict.fromkeys(names, 0))
            keys += found.keys
            unread.update(found.unread)
        for key in keys:
            if (key.group, key.route) in counts:
                counts[(key.group, key.route)] += 1
        self._set_gauge(counts, kept)
        self._log_changes({key.job_id: key for key in keys})
        with self._lock:
            self._status = {"keys": [key.as_dict() for key in keys], "scanned_at": self.wall(),
                            "error": "; ".join(errors) or None, "unread": unread}

    def _set_gauge(self, counts: dict[tuple[str, str], int], kept: set[tuple[str, str]]) -> None:
        """karafkad_held_keys of every ordered route (0 when none is held); a route no longer ordered or no longer
        in the routes file loses its series."""
        gauge = self.metrics.held_keys
        for (group, route), count in counts.items():
            gauge.labels(group, route).set(count)
        for labels in self._labelled - set(counts) - kept:
            gauge.remove(*labels)
        self._labelled = set(counts) | (kept & self._labelled)

    def _log_changes(self, now: dict[str, HeldKey]) -> None:
        fresh = [key for job_id, key in now.items() if job_id not in self._held]
        gone = [key for job_id, key in self._held.items() if job_id not in now]
        for key in fresh[:LOGGED_PER_SCAN]:
            log.warning("key held: its job failed for good and the key's later jobs wait (karafkad held retry or "
                        "skip)", group=key.group, route=key.route, topic=key.topic, partition=key.partition,
                        key=key.shown_key, job=key.job_id, error=key.error, waiting=key.shown_waiting)
        for key in gone[:LOGGED_PER_SCAN]:
            log.info("held key released", group=key.group, route=key.route, topic=key.topic,
                     partition=key.partition, key=key.shown_key, job=key.job_id)
        if len(fresh) > LOGGED_PER_SCAN or len(gone) > LOGGED_PER_SCAN:
            log.warning("held keys changed", held_now=len(now), newly_held=len(fresh), released=len(gone))
        self._held = now
