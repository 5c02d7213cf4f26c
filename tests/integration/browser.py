"""Debian's headless Chromium driven by Selenium (its chromedriver), for the tests that look at the console the way
people do: one way to start it, and one way to photograph a whole page (scripts/bootstrap installs both)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTH = 1366
"""The window's width: a laptop's screen."""


def start_chromium(folder: Path, *, console_log: bool = False) -> WebDriver:
    """Headless Chromium with its profile and chromedriver's log in `folder`; `console_log` keeps the browser
    console's messages for driver.get_log("browser")."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # The machine's network is closed: without the background-networking flags Chromium stalls on refused
    # connections to its update and sync services.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--hide-scrollbars", f"--user-data-dir={folder / 'profile'}",
                 f"--window-size={WIDTH},1000"):
        options.add_argument(flag)
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER,
                                              log_output=str(folder / "chromedriver.log")), options=options)
    driver.set_page_load_timeout(30)
    return driver


def whole_page(driver: WebDriver, shot: Path, copies: Iterable[Path] = ()) -> Path:
    """A screenshot of the whole page (the window grown to its height) at `shot`, copied to each of `copies`."""
    driver.set_window_size(WIDTH, 1000)
    for _ in range(3):  # the window's frame takes some height: grow until the viewport holds the page
        missing = int(driver.execute_script("return document.documentElement.scrollHeight - window.innerHeight"))
        if missing <= 0:
            break
        driver.set_window_size(WIDTH, driver.get_window_size()["height"] + missing)
    assert driver.save_screenshot(str(shot))
    for copy in copies:
        shutil.copy(shot, copy)
    return shot
