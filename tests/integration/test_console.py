"""The console in a real browser (Debian's headless Chromium, driven by Selenium), against three running daemons:
two of group `shop` (s1, and s2 over TLS) and one of group `audit` (a1, read-only: no web.auth).

One deployment and one browser serve every test of the module (they run in order, each leaving the deployment
as the next expects): the page shows every daemon; loads without a console error and draws the charts; refuses
actions without auth (403), with a wrong token (401) and from another site (403); finds a message in the
explorer, and shows a hostile one as text; re-drives a dead letter from the page into its job; shows a key held
by a failed job and skips it from the page; pauses a partition and a route from the page (every daemon obeys
within a second, nothing is lost, the resume continues exactly once); and shows a daemon killed with SIGKILL as
gone within a minute.

Screenshots of each view are written to the test's folder, and to $KARAFKAD_CONSOLE_SCREENSHOTS when set (how
the docs/console-*.png files are made: `KARAFKAD_CONSOLE_SCREENSHOTS=$PWD/docs scripts/test
tests/integration/test_console.py`).
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from browser import start_chromium, whole_page
from harness import (
    RUNNING,
    SERVICE_ENV,
    Daemon,
    Load,
    assert_exactly_once,
    create_topic,
    job_prefix,
    kcat_produce,
    redis_client,
    routes_yaml,
    rq_worker_burst,
    unique,
    wait_for,
    wait_until_consumed,
)
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chromium.webdriver import ChromiumDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from karafkad.store.keys import PAUSES_KEY, queue_key

TOKEN = "console-test-token-0123456789"
SCHEMA = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
HOSTILE_KEY = "<script>window.hacked=1</script>hostile-4711"
HOSTILE_HEADER = '<img src=x onerror="window.hacked=2">'
HOSTILE_VALUE = '{"n": 4711, "note": "</pre><script>window.hacked=3</script>"}'


@pytest.fixture(autouse=True)
def clean_redis() -> None:
    """(Overrides conftest's.) The deployment's daemons share one Redis for every test of the module: it is
    flushed once, before they start."""


@dataclass
class Deployment:
    """The module's topics, queues and daemons."""

    folder: Path
    orders: str
    payments: str
    dead: str
    audit: str
    ledger: str
    shop: str
    audit_group: str
    s1: Daemon
    s2: Daemon
    a1: Daemon
    tls: ssl.SSLContext

    def url(self, daemon: Daemon, path: str = "/") -> str:
        scheme = "https" if daemon is self.s2 else "http"
        return f"{scheme}://127.0.0.1:{daemon.http_port}{path}"

    def call(self, daemon: Daemon, path: str, data: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.url(daemon, path), data=data,  # noqa: S310 - 127.0.0.1 only
                                         headers=headers or {})
        opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=self.tls))
        try:
            with opener.open(request, timeout=10) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def deployment(self, daemon: Daemon | None = None) -> dict[str, Any]:
        status, _, body = self.call(daemon or self.s1, "/deployment.json")
        assert status == 200, body
        found: dict[str, Any] = json.loads(body)
        return found


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _daemon(config: Path, instance: str, env: dict[str, str]) -> Daemon:
    daemon = Daemon(config, extra_args=["--instance-id", instance], env=env).start()
    RUNNING.remove(daemon)  # it outlives each test: the module stops it
    return daemon


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    redis_client().flushall()
    folder = tmp_path_factory.mktemp("console")
    orders, payments = create_topic(unique("orders"), partitions=4), create_topic(unique("payments"), partitions=4)
    dead, audit = create_topic(unique("orders-dead")), create_topic(unique("audit"))
    ledger = create_topic(unique("ledger"))
    shop, audit_group = unique("shop"), unique("audit")
    tls_dir = Path(SERVICE_ENV["KARAFKAD_STATE_DIR"]) / "tls"
    shop_routes = {shop: {"routes": [
        {"name": "all-orders", "topic": orders, "handler": "effects.record", "queue": unique("q-orders"),
         "schema": SCHEMA, "dead_letter": dead},
        {"name": "payments", "topic": payments, "handler": "effects.record", "queue": unique("q-payments")},
        {"name": "ledger", "topic": ledger, "handler": "effects.record_in_order", "queue": unique("q-ledger"),
         "ordering": "key"}]}}
    web = {"auth": {"token": "${KARAFKAD_WEB_TOKEN}"}}
    (folder / "s1.yaml").write_text(routes_yaml(shop_routes, extra={"web": web}))
    (folder / "s2.yaml").write_text(routes_yaml(shop_routes, extra={"web": {
        **web, "tls": {"certfile": str(tls_dir / "server.pem"), "keyfile": str(tls_dir / "server.key")}}}))
    (folder / "a1.yaml").write_text(routes_yaml({audit_group: {"routes": [
        {"name": "log", "topic": audit, "handler": "effects.record", "queue": unique("q-audit")}]}}))
    # Produced before the daemons start: the new topics' leaders answer by then, so no first join meets a topic
    # whose metadata is still on its way (an empty assignment kafka-python may keep until its next refresh).
    kcat_produce(orders, [json.dumps({"n": n}) for n in range(20)])
    kcat_produce(audit, [json.dumps({"n": n}) for n in range(5)])
    kcat_produce(ledger, [f"warm\t{json.dumps({'k': 'warm', 'n': 0})}"], key_separator="\t")
    env = {"KARAFKAD_WEB_TOKEN": TOKEN}
    s1, s2, a1 = (_daemon(folder / f"{name}.yaml", name, env) for name in ("s1", "s2", "a1"))
    tls = ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))
    found = Deployment(folder, orders, payments, dead, audit, ledger, shop, audit_group, s1, s2, a1, tls)
    try:
        s1.wait_ready()
        a1.wait_ready()
        wait_for(lambda: _answers(found, s2, "/ready") == 200, 60, "s2 is ready (over TLS)")
        yield found
    finally:
        for daemon in (s1, s2, a1):
            daemon.stop(30)


def _answers(world: Deployment, daemon: Daemon, path: str) -> int | None:
    try:
        return world.call(daemon, path)[0]
    except OSError:
        return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium"), console_log=True)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: WebDriver, name: str, folder: Path) -> Path:
    """The whole page, in the test's folder, the services' state folder, and $KARAFKAD_CONSOLE_SCREENSHOTS when
    set."""
    copies = [Path(SERVICE_ENV["KARAFKAD_STATE_DIR"])]
    if os.environ.get("KARAFKAD_CONSOLE_SCREENSHOTS"):
        copies.append(Path(os.environ["KARAFKAD_CONSOLE_SCREENSHOTS"]))
    return whole_page(driver, folder / f"console-{name}.png", [c / f"console-{name}.png" for c in copies])


def errors(driver: WebDriver) -> list[dict[str, Any]]:
    """The browser console's errors since the last call (a CSP violation, a script error, a failed load)."""
    assert isinstance(driver, ChromiumDriver)  # the browser log is Chromium's
    return [entry for entry in driver.get_log("browser")  # type: ignore[no-untyped-call]
            if entry["level"] == "SEVERE"]


def sign_in(driver: WebDriver, world: Deployment) -> None:
    driver.get(world.url(world.s1, "/login"))
    driver.find_element(By.NAME, "token").send_keys(TOKEN)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    wait_for(lambda: "signed in: token" in driver.page_source, 10, "signed in")


def click(driver: WebDriver, selector: str) -> None:
    """Submit the form of the button at `selector`, and wait for the page it leads to."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, selector).click()
    wait_for(lambda: _stale(driver, old), 10, f"the page after clicking {selector}")


def _stale(driver: WebDriver, element: Any) -> bool:
    try:
        element.tag_name  # noqa: B018 - touching it raises once the page was replaced
    except Exception:
        return True
    return False


def flash(driver: WebDriver) -> str:
    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, ".flash"))


# --- the tests, in the order they run --------------------------------------------------------------------------


def test_one_page_shows_every_daemon_of_every_group(world: Deployment, browser: WebDriver,
                                                    tmp_path: Path) -> None:
    """Two daemons of shop and one of audit: any daemon's page (here the read-only audit daemon's) lists all
    three, running, and each shop partition with the daemon that holds it."""
    def running() -> set[str]:
        return {m["name"] for m in world.deployment(world.a1)["instances"] if not m["gone"]}

    def holders() -> list[str]:
        return sorted(m["name"] for m in world.deployment(world.a1)["instances"] if m["snapshot"]
                      for p in m["snapshot"]["partitions"] if p["topic"] == world.orders)

    wait_for(lambda: running() == {"s1", "s2", "a1"}, 30, "the three daemons publish")
    wait_for(lambda: holders() == ["s1", "s1", "s2", "s2"], 30, "the shop daemons share the four partitions")
    wait_until_consumed(world.a1, world.audit, world.audit_group)
    browser.get(world.url(world.a1))
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('tr[data-instance][data-state=running]'))"
        ".map(tr => tr.dataset.instance)")
    assert sorted(shown) == ["a1", "s1", "s2"]
    shown_holders = browser.execute_script(
        f"return Array.from(document.querySelectorAll('tr[data-topic=\"{world.orders}\"][data-partition]'))"
        ".map(tr => tr.dataset.instance)")
    assert sorted(shown_holders) == ["s1", "s1", "s2", "s2"]  # four partitions, two members
    assert errors(browser) == []


def test_the_page_loads_without_errors_and_draws_the_charts(world: Deployment, browser: WebDriver,
                                                            tmp_path: Path) -> None:
    """The overview (signed out) has no console error, and its history charts draw lines once two steps were
    sampled; the page reloads itself without one either."""
    def consumed_line() -> int:
        browser.get(world.url(world.s1, "/?range=15m"))
        return int(browser.execute_script(
            "const l = document.querySelectorAll('svg[data-chart=consumed] polyline');"
            "return Math.max(0, ...Array.from(l).map(p => p.getAttribute('points').split(' ').length));"))

    wait_for(lambda: consumed_line() >= 2, 40, "the consumed chart has a line", interval=2)
    assert browser.find_elements(By.CSS_SELECTOR, "svg[data-chart=lag] polyline, svg[data-chart=lag] circle")
    time.sleep(6)  # a refresh by console.js (every 5 s) swaps the page's parts in
    assert errors(browser) == []
    assert "live · updated" in browser.find_element(By.ID, "live").text
    screenshot(browser, "overview", tmp_path)


def test_without_auth_every_action_is_refused_and_none_offered(world: Deployment, browser: WebDriver) -> None:
    """The audit daemon has no web.auth: no button anywhere, every action 403 (even with the token), nobody
    signs in."""
    browser.get(world.url(world.a1))
    assert browser.find_elements(By.CSS_SELECTOR, "form[action^='/actions/']") == []
    assert "read-only" in browser.find_element(By.CSS_SELECTOR, ".nav").text
    for path in ("/actions/pause", "/actions/resume", "/actions/redrive", "/actions/held-retry"):
        status, _, _ = world.call(world.a1, path, b"group=x&route=y", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 403, path
    assert world.call(world.a1, "/login", f"token={TOKEN}".encode())[0] == 403
    assert redis_client().hlen(PAUSES_KEY) == 0


def test_a_wrong_token_is_401_and_a_forged_cross_site_post_403(world: Deployment) -> None:
    """Over TLS (s2): a wrong bearer token is 401, the right one acts; a browser's session with its CSRF token,
    posting from another site's page, is refused (403) and does nothing."""
    body = f"group={world.shop}&route=payments".encode()
    assert world.call(world.s2, "/actions/pause", body, {"Authorization": "Bearer wrong-token-wrong-token"})[0] == 401
    assert world.call(world.s2, "/actions/pause", body)[0] == 401
    with pytest.raises(OSError):  # plain HTTP to the TLS port is no answer
        urllib.request.urlopen(f"http://127.0.0.1:{world.s2.http_port}/ping", timeout=5)
    status, headers, _ = world.call(world.s1, "/login", f"token={TOKEN}".encode(),
                                    {"Origin": f"http://127.0.0.1:{world.s1.http_port}"})
    cookie = headers["Set-Cookie"].split(";")[0]
    page = world.call(world.s1, "/", headers={"Cookie": cookie})[2].decode()
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    forged = world.call(world.s1, "/actions/pause", body + f"&csrf={csrf}".encode(),
                        {"Cookie": cookie, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert (status, forged[0]) == (303, 403)
    assert redis_client().hlen(PAUSES_KEY) == 0


def test_the_explorer_finds_a_message_and_shows_a_hostile_one_as_text(world: Deployment, browser: WebDriver,
                                                                       tmp_path: Path) -> None:
    """Script tags in the key, a header and the value: found by its text, shown as text (no script runs, no
    element is injected), with the route's steps and its job's status in RQ."""
    kcat_produce(world.orders, [f"{HOSTILE_KEY}\t{HOSTILE_VALUE}"], key_separator="\t", partition=2,
                 extra=["-H", f"x-evil={HOSTILE_HEADER}"])
    wait_until_consumed(world.s1, world.orders, world.shop)
    query = urllib.parse.urlencode({"topic": world.orders, "contains": "hostile-4711"})
    browser.get(world.url(world.s1, f"/explorer?{query}"))
    [message] = browser.find_elements(By.CSS_SELECTOR, "article.msg")
    assert message.find_element(By.CSS_SELECTOR, "[data-field=key]").text == HOSTILE_KEY
    assert HOSTILE_HEADER in message.text and "window.hacked=3" in message.text
    assert browser.execute_script("return window.hacked") is None
    assert browser.execute_script("return document.querySelectorAll('script, img').length") == 1  # console.js
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    fate = message.find_element(By.CSS_SELECTOR, ".fate[data-route=all-orders]")
    assert fate.get_attribute("data-outcome") == "enqueue" and "schema: valid" in fate.text
    assert fate.find_element(By.CSS_SELECTOR, "[data-field=job-status]").text == "queued"
    status, _, data = world.call(world.s1, f"/explorer.json?{query}")
    assert status == 200 and b"<script>" not in data and json.loads(data)["messages"][0]["key"] == HOSTILE_KEY
    assert errors(browser) == []
    screenshot(browser, "explorer", tmp_path)


def test_a_redrive_from_the_page_makes_the_job(world: Deployment, browser: WebDriver, tmp_path: Path) -> None:
    """A dead letter whose message passes the route now: chosen on the dead letters page and re-driven, it
    becomes its job (named by the dead letter's place); re-driven again, nothing more."""
    headers = {"karafkad.error": "n is missing", "karafkad.error_kind": "schema", "karafkad.route": "all-orders",
               "karafkad.group": world.shop, "karafkad.original_topic": world.orders,
               "karafkad.original_partition": "0", "karafkad.original_offset": "900001"}
    kcat_produce(world.dead, [json.dumps({"n": 900001})],
                 extra=[arg for name, value in headers.items() for arg in ("-H", f"{name}={value}")])
    sign_in(browser, world)
    browser.get(world.url(world.s1, "/dead-letters"))
    row = browser.find_element(By.CSS_SELECTOR, "tr.letter")
    assert "passes" in row.text and "schema" in row.text
    screenshot(browser, "dead-letters", tmp_path)
    row.find_element(By.CSS_SELECTOR, "input[name=at]").click()
    click(browser, "form.redrive button[type=submit]")
    assert "1 dead letter became 1 job" in flash(browser)
    queue = next(r for r in world.deployment()["instances"][0]["snapshot"]["routes"] if r["name"] == "all-orders")
    job = f"{job_prefix(world.shop, world.orders, 'all-orders')}-0-900001-d0_0"  # named by the dead letter's place
    assert job.encode() in redis_client().lrange(queue_key(queue["queue"]), 0, -1)
    browser.find_element(By.CSS_SELECTOR, "tr.letter input[name=at]").click()
    click(browser, "form.redrive button[type=submit]")
    assert "0 dead letters became 0 jobs; 1 already re-driven before" in flash(browser)
    assert errors(browser) == []


def test_a_held_key_is_shown_and_skipped_from_the_page(world: Deployment, browser: WebDriver,
                                                        tmp_path: Path) -> None:
    """A job of the ordered route ledger fails for good and holds its key: the held keys page shows it (its job,
    error and the jobs waiting behind it, read through karafkad.ops.held); Skip from the page runs the rest of
    the key, in order, without it, and the operation names who did it."""
    client = redis_client()
    client.sadd("effects:failing", "h:1")
    kcat_produce(world.ledger, [f"h\t{json.dumps({'k': 'h', 'n': n})}" for n in range(4)], key_separator="\t")
    wait_until_consumed(world.s1, world.ledger, world.shop)
    route = next(r for r in world.deployment()["instances"][0]["snapshot"]["routes"] if r["name"] == "ledger")

    def run_jobs() -> list[int]:
        ran = rq_worker_burst(route["queue"])
        assert ran.returncode == 0, ran.stderr[-3000:]
        return [int(n) for n in client.lrange("effects:order:h", 0, -1)]

    assert run_jobs() == [0]
    job = f"{job_prefix(world.shop, world.ledger, 'ledger')}-0-2"  # h:1, after the warm-up message and h:0
    sign_in(browser, world)
    browser.get(world.url(world.s1, "/held"))
    row = browser.find_element(By.CSS_SELECTOR, f"tr.held[data-job='{job}']")
    assert "RuntimeError: message h:1 fails on purpose" in row.text and row.find_element(
        By.CSS_SELECTOR, "td.num").text == "2"
    screenshot(browser, "held", tmp_path)
    old = browser.find_element(By.TAG_NAME, "html")
    row.find_element(By.CSS_SELECTOR, "form[action='/actions/held-skip'] button").click()
    browser.switch_to.alert.accept()  # the page asks before a skip
    wait_for(lambda: _stale(browser, old), 10, "the page after the skip")
    assert "1 held key skipped by token from 127.0.0.1" in flash(browser)
    assert run_jobs() == [0, 2, 3]
    assert "held-skip" in [e["kind"] for e in world.deployment()["operations"]]
    assert errors(browser) == []


def _consumed(world: Deployment, daemon: Daemon) -> float:
    """The daemon's messages consumed of the payments topic (its /metrics)."""
    status, _, body = world.call(daemon, "/metrics")
    assert status == 200
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("karafkad_messages_consumed_total{") and f'topic="{world.payments}"' in line)


def _paused_at(daemon: Daemon, topic: str) -> float:
    """When the daemon's consumer paused the topic's partitions for an operator (its log line's time)."""
    for event in daemon.events():
        if event.get("event") == "partitions paused by an operator" and any(
                p.startswith(f"{topic}[") for p in event.get("partitions", [])):
            return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
    raise AssertionError(f"no pause of {topic} in the log of {daemon.config.name}")


class CounterSampler(threading.Thread):
    """Reads both shop daemons' payments counters every 50 ms, and keeps when each last changed."""

    def __init__(self, world: Deployment) -> None:
        super().__init__(daemon=True)
        self.world = world
        self.last: dict[str, tuple[float, float]] = {}
        """Daemon -> (when its counter last changed, its value then)."""
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            for name, daemon in (("s1", self.world.s1), ("s2", self.world.s2)):
                count = _consumed(self.world, daemon)
                if self.last.get(name, (0.0, -1.0))[1] != count:
                    self.last[name] = (time.time(), count)

    def stop(self) -> dict[str, tuple[float, float]]:
        self.done.set()
        self.join(10)
        return self.last


def test_a_partition_paused_from_the_page_stops_and_a_resume_restarts_it(world: Deployment,
                                                                           browser: WebDriver) -> None:
    """Pause orders[1] from the page: its new messages wait (the other partitions go on) while its member keeps
    the group; resumed from the pauses card, they become their jobs."""
    browser.get(world.url(world.s1))
    click(browser, f"tr[data-topic='{world.orders}'][data-partition='1'] form[action='/actions/pause'] button")
    assert "paused by token from 127.0.0.1" in flash(browser)
    time.sleep(1.0)
    kcat_produce(world.orders, [json.dumps({"n": 5000 + n}) for n in range(3)], partition=1)
    kcat_produce(world.orders, [json.dumps({"n": 6000 + n}) for n in range(3)], partition=3)
    route = next(r for r in world.deployment()["instances"][0]["snapshot"]["routes"] if r["name"] == "all-orders")
    prefix = job_prefix(world.shop, world.orders, "all-orders")

    def jobs(partition: int) -> int:
        return sum(1 for i in redis_client().lrange(queue_key(route["queue"]), 0, -1)
                   if i.decode().startswith(f"{prefix}-{partition}-"))

    before = jobs(1)
    wait_for(lambda: jobs(3) >= 3, 30, "partition 3 goes on")
    time.sleep(1.0)
    assert jobs(1) == before
    paused = [p for m in world.deployment()["instances"] if m["snapshot"]
              for p in m["snapshot"]["partitions"] if p["topic"] == world.orders and p["partition"] == 1]
    assert [p["paused"] for p in paused] == ["operator"]  # still assigned to its member: the group kept it
    browser.get(world.url(world.s1))
    click(browser, "tr.pause form[action='/actions/resume'] button")
    wait_for(lambda: jobs(1) == before + 3, 30, "partition 1 resumes")
    assert errors(browser) == []


def test_a_route_paused_from_the_page_stops_on_every_daemon_and_resumes_exactly_once(
        world: Deployment, browser: WebDriver, tmp_path: Path, record_property: Any) -> None:
    """Under load, pause route payments from the page: both shop daemons stop consuming its topic within a
    second of the pause being written (their counters stand still), keep their members; resumed, every message
    becomes exactly one job (by id)."""
    load = Load(world.payments, batch=50, rate=300).start()
    try:
        wait_for(lambda: _consumed(world, world.s1) > 0 and _consumed(world, world.s2) > 0, 30,
                 "both daemons consume payments")
        sampler = CounterSampler(world)
        sampler.start()
        browser.get(world.url(world.s1))
        click(browser, "tr[data-route='payments'] form[action='/actions/pause'] button")
        [paused] = [json.loads(v) for v in redis_client().hvals(PAUSES_KEY)]
        written = float(paused["at"])
        time.sleep(3.0)
        last = sampler.stop()
        assert set(last) == {"s1", "s2"} and all(at > written - 5 for at, _ in last.values())
        paused_after = {name: round(_paused_at(daemon, world.payments) - written, 2)
                        for name, daemon in (("s1", world.s1), ("s2", world.s2))}
        counted_after = {name: round(at - written, 2) for name, (at, _) in last.items()}
        record_property("recovery", f"route paused: partitions paused {paused_after} s after the pause was "
                                    f"written; counters still {counted_after} s after (the batches in flight)")
        assert all(after < 1.0 for after in paused_after.values()), paused_after
        assert all(after < 2.0 for after in counted_after.values()), counted_after

        def states() -> list[list[Any]]:
            """Each payments partition's daemon, and whether the page shows it paused (as published)."""
            browser.get(world.url(world.s1))
            shown: list[list[Any]] = browser.execute_script(
                f"return Array.from(document.querySelectorAll('tr[data-partition][data-topic=\"{world.payments}\"]'))"
                ".map(tr => [tr.dataset.instance, tr.hasAttribute('data-paused')])")
            return sorted(shown)

        wait_for(lambda: states() == [["s1", True], ["s1", True], ["s2", True], ["s2", True]], 10,
                 "every daemon's page shows the payments partitions paused (the members kept them)", interval=1)
        assert browser.find_element(By.CSS_SELECTOR, "tr.pause").text.startswith("route payments")
        screenshot(browser, "paused", tmp_path)
        click(browser, "tr.pause form[action='/actions/resume'] button")
        assert "resumed by token from 127.0.0.1" in flash(browser)
        time.sleep(1.0)
    finally:
        load.stop()
    wait_until_consumed(world.s1, world.payments, world.shop)
    route = next(r for r in world.deployment()["instances"][0]["snapshot"]["routes"] if r["name"] == "payments")
    checked = assert_exactly_once(world.payments, world.shop, route["queue"], "payments")
    assert checked > 300
    kinds = [e["kind"] for e in world.deployment()["operations"]]
    assert kinds[:2] == ["resume", "pause"]
    assert errors(browser) == []


def test_the_sign_in_page_is_a_form_only_with_web_auth(world: Deployment, browser: WebDriver, tmp_path: Path) -> None:
    """The sign-in page (a form on a console with web.auth, a note on a read-only one) loads without an error."""
    browser.get(world.url(world.s1, "/login"))
    assert browser.find_elements(By.NAME, "token") and browser.find_elements(By.NAME, "password")
    screenshot(browser, "sign-in", tmp_path)
    browser.get(world.url(world.a1, "/login"))
    assert "read-only" in browser.page_source and not browser.find_elements(By.NAME, "token")
    assert errors(browser) == []


def test_a_daemon_killed_with_sigkill_is_shown_gone_within_a_minute(world: Deployment, browser: WebDriver,
                                                                     tmp_path: Path,
                                                                     record_property: Any) -> None:
    """SIGKILL s2 (no last word): the other daemons' pages list it as gone, with when it was last seen, within
    its snapshot's expiry."""
    assert world.s2.proc is not None
    killed = time.monotonic()
    world.s2.signal(signal.SIGKILL)
    world.s2.wait(30)

    def gone() -> bool:
        return any(m["name"] == "s2" and m["gone"] for m in world.deployment(world.a1)["instances"])

    wait_for(gone, 60, "s2 is shown as gone", interval=0.5)
    seconds = time.monotonic() - killed
    record_property("recovery", f"daemon killed with SIGKILL shown gone after {seconds:.1f} s")
    browser.get(world.url(world.s1))
    assert browser.find_element(By.CSS_SELECTOR, "tr.gone[data-instance=s2]")
    assert "1 gone" in browser.find_element(By.CSS_SELECTOR, "[data-field=gone]").text
    screenshot(browser, "gone", tmp_path)
