"""`karafkad worker` serves each queue from the Redis its jobs are written to, with their serializer."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from redis.client import PubSubWorkerThread
from rq.exceptions import StopRequested
from rq.worker import BaseWorker
from tables import make_table

from karafkad.cli import worker
from karafkad.cli.worker import _shares, leave_command_channel, run_worker
from karafkad.config.settings import RedisSettings

MAIN, HEAVY = RedisSettings(url="redis://127.0.0.1:9/0"), RedisSettings(url="redis://127.0.0.1:9/1")


class TestShares:
    """_shares: the queues a worker serves, split by the Redis they live on and by serializer."""

    def test_queues_are_split_by_redis_and_serializer(self, tmp_path: Path) -> None:
        """One RQ worker per Redis and serializer; a queue no route feeds is read as JSON from the top-level
        Redis."""
        table = make_table(tmp_path, {
            "light": {"routes": [{"topic": "a", "handler": "h.handle", "queue": "a"},
                                 {"topic": "p", "handler": "h.handle", "queue": "p", "job": {"serializer": "pickle"}}]},
            "heavy": {"redis": {"url": HEAVY.url}, "routes": [{"topic": "b", "handler": "h.handle", "queue": "b"},
                                                              {"topic": "c", "handler": "h.handle", "queue": "c"}]}},
            redis={"url": MAIN.url})
        assert _shares(table, ["a", "b", "p", "c"]) == {(MAIN, "json"): ["a"], (HEAVY, "json"): ["b", "c"],
                                                          (MAIN, "pickle"): ["p"]}
        assert _shares(table, ["elsewhere"]) == {(MAIN, "json"): ["elsewhere"]}  # a queue no route feeds


class TestRunWorker:
    """run_worker: what is checked before RQ's worker runs."""

    def test_a_named_worker_cannot_be_split(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--name names one RQ worker; queues on two Redis servers need two, so it is refused before connecting."""
        table = make_table(tmp_path, {
            "light": {"routes": [{"topic": "a", "handler": "h.handle", "queue": "a"}]},
            "heavy": {"redis": {"url": HEAVY.url}, "routes": [{"topic": "b", "handler": "h.handle", "queue": "b"}]}},
            redis={"url": MAIN.url})
        assert run_worker(table.config.file, [], name="w1") == 1
        error = capsys.readouterr().err
        assert "--name names one worker, but these queues need 2" in error
        assert "a on redis://127.0.0.1:9/0 (json); b on redis://127.0.0.1:9/1 (json)" in error

    @pytest.mark.usefixtures("isolated_imports")
    @pytest.mark.parametrize("fork", [True, False], ids=["forking", "no fork"])
    def test_the_handlers_are_checked_then_forgotten_before_the_worker_runs(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fork: bool) -> None:
        """The handlers were imported to check them; by the time RQ's worker runs (and forks its work horses)
        they are out of sys.modules again, so each job imports its handler from disk, as under `rq worker`."""
        table = make_table(tmp_path, {"g": {"routes": [{"topic": "a", "handler": "h.handle", "queue": "a"}]}},
                           redis={"url": MAIN.url})
        module = table.routes[0].handler.module
        seen: dict[str, object] = {}

        class FakeWorker:
            def __init__(self, queues: list[str], **options: object) -> None:
                seen["queues"] = queues

            def work(self, **options: object) -> None:
                seen["loaded"] = [name for name in sys.modules if name == module or name.startswith(module + ".")]
                seen["importable"] = str(tmp_path / "plugins") in sys.path

        monkeypatch.setattr(worker, "ForkingWorker", FakeWorker)
        monkeypatch.setattr(worker, "InProcessWorker", FakeWorker)
        monkeypatch.setattr(worker, "connect", lambda settings, blocking: None)
        assert module in sys.modules  # make_table checked the handler, as run_worker's own load does
        assert run_worker(table.config.file, [], fork=fork) == 0
        assert seen == {"queues": ["a"], "loaded": [], "importable": True}


class FakePubSub:
    """redis-py's PubSub as its worker thread meets it: get_message waits `timeout` for a message while
    subscribed, and for a subscription when not (redis-py 8's `subscribed_event.wait(timeout)`); the
    UNSUBSCRIBE reply ends the subscription. unsubscribe() returns only once the thread has read that reply
    and come back for more, or ended: the unlucky order that one burst run in five met."""

    def __init__(self) -> None:
        self.subscribed = threading.Event()
        self.subscribed.set()
        self.reply = threading.Event()
        self.asking_again = threading.Event()
        self.thread: threading.Thread | None = None
        self.closed = 0

    def get_message(self, ignore_subscribe_messages: bool = False, timeout: float = 0.0) -> None:
        if not self.subscribed.is_set():
            self.asking_again.set()
            self.subscribed.wait(timeout)
            return
        if self.reply.wait(timeout):
            self.reply.clear()
            self.subscribed.clear()

    def unsubscribe(self) -> None:
        self.reply.set()
        while self.thread is not None and self.thread.is_alive() and not self.asking_again.is_set():
            time.sleep(0.005)

    def close(self) -> None:
        self.closed += 1


def _subscribed_worker(sleep_time: float) -> tuple[Any, FakePubSub, PubSubWorkerThread]:
    """A worker's command channel as RQ's subscribe() leaves it: redis-py's own thread reading a pubsub."""
    pubsub = FakePubSub()
    thread = PubSubWorkerThread(pubsub, sleep_time, daemon=True)
    pubsub.thread = thread
    thread.start()
    fake = SimpleNamespace(pubsub=pubsub, pubsub_thread=thread, name="w", pubsub_channel_name="rq:pubsub:w",
                           log=logging.getLogger("test"))
    return fake, pubsub, thread


class TestWorkerClasses:
    """Our two workers are RQ's with our additions, and still run jobs the way their RQ class does."""

    def test_the_in_process_worker_runs_jobs_as_simple_worker_does(self) -> None:
        """--no-fork runs each job in the worker process (SimpleWorker's execute_job), never in a forked work
        horse; a KarafkadWorker built on RQ's Worker put Worker's forking execute_job first in this MRO."""
        from rq import SimpleWorker, Worker

        assert worker.InProcessWorker.execute_job is SimpleWorker.execute_job
        assert worker.InProcessWorker.main_work_horse is SimpleWorker.main_work_horse
        assert not issubclass(worker.InProcessWorker, Worker)

    def test_the_forking_worker_forks_as_rqs_worker_does(self) -> None:
        """The default worker forks a work horse per job (Worker's execute_job), with our command-channel leave."""
        from rq import Worker

        assert worker.ForkingWorker.execute_job is Worker.execute_job
        assert worker.ForkingWorker.unsubscribe is worker.KarafkadWorker.unsubscribe


class TestLeavingTheCommandChannel:
    def test_the_worker_leaves_at_once_though_the_thread_read_the_reply_first(self) -> None:
        """With the thread's running flag lowered before UNSUBSCRIBE, the reply ends the thread: no wait for
        a subscription (60 s in RQ), the thread is gone and the pubsub closed."""
        fake, pubsub, thread = _subscribed_worker(sleep_time=30)
        started = time.monotonic()
        leave_command_channel(fake)
        assert time.monotonic() - started < 1
        assert not thread.is_alive() and pubsub.closed >= 1
        assert not pubsub.asking_again.is_set()  # it never came back for more

    def test_rqs_own_order_waits_out_the_threads_sleep_time(self) -> None:
        """The cause, shown on the same fake: RQ's unsubscribe (UNSUBSCRIBE, then redis-py's stop(), which
        joins) waits for the whole sleep_time, here 1.5 s (RQ's is 60)."""
        fake, pubsub, thread = _subscribed_worker(sleep_time=1.5)
        started = time.monotonic()
        BaseWorker.unsubscribe(fake)
        assert time.monotonic() - started >= 1.4
        assert pubsub.asking_again.is_set() and not thread.is_alive()

    def test_a_worker_that_never_subscribed_has_nothing_to_leave(self) -> None:
        """No thread (the worker failed before subscribing): nothing is done, nothing raised."""
        leave_command_channel(SimpleNamespace(pubsub=None, pubsub_thread=None))  # type: ignore[arg-type]


class TestStopDuringTeardown:
    def test_a_signal_while_the_worker_leaves_is_a_stop_said_in_words(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        """RQ raises StopRequested (with no text) for a SIGTERM during its teardown: exit 0 with a line saying
        so, not "worker stopped: StopRequested: " and exit 3."""
        table = make_table(tmp_path, {"g": {"routes": [{"topic": "a", "handler": "h.handle", "queue": "a"}]}},
                           redis={"url": MAIN.url})

        class StoppedWorker:
            def __init__(self, queues: list[str], **options: object) -> None:
                pass

            def work(self, **options: object) -> None:
                raise StopRequested()

        monkeypatch.setattr(worker, "ForkingWorker", StoppedWorker)
        monkeypatch.setattr(worker, "connect", lambda settings, blocking: None)
        assert run_worker(table.config.file, []) == 0
        error = capsys.readouterr().err
        assert "StopRequested" not in error
        assert "karafkad: worker stopped by a signal while it was shutting down" in error


class TestTracedJobs:
    """With tracing on, a job whose meta carries a trace context is performed inside its span."""

    @staticmethod
    def _tracing() -> tuple[Any, Any]:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from karafkad.tracing.jobs import JobSpans

        exporter = InMemorySpanExporter()
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return SimpleNamespace(jobs=JobSpans(provider.get_tracer("test"))), exporter

    def test_the_job_is_performed_in_its_span_and_a_failure_is_recorded(self) -> None:
        """RQ's perform runs with the job's span current; an exception its handler met, and the failed perform,
        end up on the span."""
        from opentelemetry import trace
        from opentelemetry.trace import StatusCode

        tracing, exporter = self._tracing()
        job = SimpleNamespace(id="kd-1", func_name="h.handle", meta={
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
        seen = []

        def perform() -> bool:
            seen.append(trace.get_current_span().get_span_context().trace_id)
            worker.record_exception(tracing, (ValueError, ValueError("bad"), None))
            return False

        assert worker.perform_traced(tracing, SimpleNamespace(name="w"), job, SimpleNamespace(name="q"),
                                     perform) is False
        (span,) = exporter.get_finished_spans()
        assert seen == [0x0AF7651916CD43DD8448EB211C80319C]
        assert span.status.status_code is StatusCode.ERROR and [e.name for e in span.events] == ["exception"]

    def test_tracing_off_records_nothing(self) -> None:
        """No tracing: the exception handler's arguments are left alone."""
        worker.record_exception(None, (ValueError, ValueError("bad"), None))
