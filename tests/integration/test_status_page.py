"""The status page in a real browser: headless Chromium (Debian's) driven by Selenium, against a running daemon.

The page is opened before any message exists and must refresh itself; once
the daemon has consumed everything, the numbers it shows must be those of
/metrics and of Redis at that moment. A screenshot is kept for people: in
the test's tmp dir, in the services' state folder (.run/test/status-page.png
under scripts/test), and at $KARAFKAD_STATUS_SCREENSHOT when set (the docs'
screenshots of the console are test_console.py's).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import start_chromium, whole_page
from harness import (
    SERVICE_ENV,
    Daemon,
    create_topic,
    kcat_produce,
    redis_client,
    routes_yaml,
    unique,
    wait_until_consumed,
)
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from karafkad.store.keys import queue_key

READ_PAGE = """
const count = (cell) => cell ? cell.querySelector('.count').textContent : null;
const rows = (selector) => Array.from(document.querySelectorAll(selector));
return {
  generated: document.documentElement.dataset.generated,
  state: document.querySelector('[data-field=state]').textContent,
  ready: document.querySelector('[data-field=ready]').textContent,
  routes: rows('tr[data-route]').map((tr) => ({
    group: tr.dataset.group, route: tr.dataset.route,
    consumed: count(tr.querySelector('[data-field=consumed]')),
    enqueued: count(tr.querySelector('[data-field=enqueued]')),
    skipped: count(tr.querySelector('[data-field=skipped]')),
    dead_lettered: count(tr.querySelector('[data-field=dead_lettered]')),
  })),
  partitions: rows('tr[data-partition]').map((tr) => ({
    group: tr.dataset.group, topic: tr.dataset.topic, partition: tr.dataset.partition,
    lag: count(tr.querySelector('[data-field=lag]')),
  })),
  queues: rows('tr[data-queue]').map((tr) => ({queue: tr.dataset.queue,
                                                depth: count(tr.querySelector('[data-field=depth]'))})),
  problems: rows('tr.problem').map((tr) => tr.textContent),
};
"""
"""Everything the test checks, read in one script: a refresh cannot swap the page between two readings."""


def number(text: str | None) -> int:
    assert text is not None and text != "—", f"no number shown: {text!r}"
    return int(text.replace(",", ""))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    driver = start_chromium(tmp_path)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: WebDriver, tmp_path: Path) -> Path:
    """The whole page, saved where people can find it."""
    copies = [Path(SERVICE_ENV["KARAFKAD_STATE_DIR"]) / "status-page.png"]
    if os.environ.get("KARAFKAD_STATUS_SCREENSHOT"):
        copies.append(Path(os.environ["KARAFKAD_STATUS_SCREENSHOT"]))
    return whole_page(driver, tmp_path / "status-page.png", copies)


def test_the_status_page_shows_what_metrics_and_redis_say(tmp_path: Path, browser: WebDriver) -> None:
    """Counts per route, lag per partition, queue depths and a recent problem, as a browser shows them after
    the page refreshed itself, equal /metrics and LLEN at the same moment."""
    orders, dead = create_topic(unique("orders"), partitions=2), create_topic(unique("orders-dead"))
    group, all_queue, big_queue = unique("shop"), unique("orders"), unique("alerts")
    schema = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml({group: {"routes": [
        {"name": "all-orders", "topic": orders, "handler": "effects.record", "queue": all_queue, "schema": schema,
         "dead_letter": dead},
        {"name": "big-orders", "topic": orders, "handler": "effects.record", "queue": big_queue,
         "filter": "params.n >= 15", "on_error": "skip"},
    ]}}))
    daemon = Daemon(config).start().wait_ready()
    browser.get(f"http://127.0.0.1:{daemon.http_port}/")
    assert browser.title.startswith("karafkad · running")

    for partition in (0, 1):  # both partitions get messages, so both have a lag reading
        good = [json.dumps({"n": n}) for n in range(partition, 20, 2)]
        kcat_produce(orders, [*good, "not json", '{"n": "two"}'], partition=partition)
    wait_until_consumed(daemon, orders, group)
    produced_by = time.time()

    WebDriverWait(browser, 30, poll_frequency=0.25).until(
        lambda d: float(d.execute_script("return document.documentElement.dataset.generated")) > produced_by,
        "the page did not refresh itself")
    page: dict[str, Any] = browser.execute_script(READ_PAGE)
    assert page["state"] == "running" and page["ready"] == "ready"

    # The numbers /metrics and Redis hold now (nothing is produced any more, so they stay put).
    def metric(name: str, **labels: str) -> int:
        return round(daemon.metric(name, group=group, **labels))

    routes = {r["route"]: r for r in page["routes"] if r["group"] == group}
    assert set(routes) == {"all-orders", "big-orders"}
    for name, shown in routes.items():
        assert number(shown["consumed"]) == metric("karafkad_messages_consumed_total", topic=orders) == 24
        assert number(shown["enqueued"]) == metric("karafkad_jobs_enqueued_total", route=name)
        assert number(shown["skipped"]) == metric("karafkad_messages_skipped_total", route=name)
        assert number(shown["dead_lettered"]) == metric("karafkad_dead_letters_total", route=name)
    assert number(routes["all-orders"]["enqueued"]) == 20
    assert number(routes["all-orders"]["dead_lettered"]) == 4  # per partition: one undecodable, one off-schema
    assert number(routes["big-orders"]["enqueued"]) == 5
    assert number(routes["big-orders"]["skipped"]) >= 15 + 2  # filtered, and the undecodable ones

    lags = {int(p["partition"]): number(p["lag"]) for p in page["partitions"] if p["topic"] == orders}
    assert set(lags) == {0, 1}
    for partition, lag in lags.items():
        assert lag == metric("karafkad_consumer_lag", topic=orders, partition=str(partition))

    depths = {q["queue"]: number(q["depth"]) for q in page["queues"]}
    assert depths == {q: redis_client().llen(queue_key(q)) for q in (all_queue, big_queue)}
    assert depths == {all_queue: 20, big_queue: 5}

    assert any("skipped" in p and "decode" in p and "big-orders" in p for p in page["problems"]), page["problems"]

    shot = screenshot(browser, tmp_path)
    assert shot.stat().st_size > 10_000
    assert daemon.stop() == 0, daemon.logs()
