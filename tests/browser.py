"""Drive Debian's real Chromium, headless, through Selenium, for tests of pages the harness writes.

The driver is Debian's `/usr/bin/chromedriver`, given explicitly: Selenium Manager (which would look up and
download a browser and a driver over the network) is never started. The browser is told not to reach out
either (no component updates, no background networking, every host name unresolvable), and it is quit in
every case, so no chromium process outlives a test. `harness provision --test-browser` installs both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1400, 1000)
PAGE_LOAD_TIMEOUT_S = 30
SESSION_MARK = "HARNESS_TEST_BROWSER_HOME"

# Root in a container: no sandbox, no /dev/shm (often 64 MB), no GPU. The rest keeps Chromium off the network.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


def missing() -> str | None:
    """Why the browser cannot start here, or None."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.is_file() and shutil.which(binary.name) is None:
            return f"{binary} is missing: run `harness provision --test-browser`"
    return None


@contextlib.contextmanager
def chromium(home: Path, log_path: Path | None = None) -> Iterator[webdriver.Chrome]:
    """A headless Chromium session writing only under `home` (its profile, and the crash database it would
    otherwise keep in ~/.config); chromedriver's log goes to `log_path` when given."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={home / 'profile'}")
    # Every process of the session inherits this environment, so leftover() can find them, detached or not.
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), SESSION_MARK: str(home)}
    log_output = str(log_path) if log_path else None
    service = Service(executable_path=str(CHROMEDRIVER), log_output=log_output, env=env)
    driver = webdriver.Chrome(options=options, service=service)  # quits itself if the session cannot start
    try:
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
        yield driver
    finally:
        driver.quit()  # ends the browser, then chromedriver


def open_report(driver: WebDriver, path: Path) -> None:
    """Load a local HTML file as a user opening it would: from file://."""
    driver.get(path.resolve().as_uri())


def save_screenshot(driver: WebDriver, path: Path) -> Path:
    """The whole page as PNG (as tall as its content), at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The window's size includes what is not page (outer minus inner height): leave room for it too.
    height = driver.execute_script(
        "window.scrollTo(0, 0); return document.documentElement.scrollHeight + outerHeight - innerHeight"
    )
    driver.set_window_size(WINDOW[0], max(WINDOW[1], int(height)))
    if not driver.save_screenshot(str(path)):
        raise AssertionError(f"Chromium wrote no screenshot at {path}")
    driver.set_window_size(*WINDOW)
    return path


def leftover(home: Path) -> list[int]:
    """Live (not zombie) processes of the session that wrote under `home`: none once it has quit."""
    mark = f"{SESSION_MARK}={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # it ended while we looked
        if mark in environment and state != "Z":
            found.append(int(entry.name))
    return found
