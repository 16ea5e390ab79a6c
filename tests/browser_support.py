"""Browser tests' fixtures: Debian's chromium driven by Playwright's sync API, and screenshots kept with the run.

Playwright cannot download its own browser here, so it launches the system's chromium by path
(`deploy/local/chromium.sh` installs it; `make test` runs that script first). The tests are plain sync
functions, like the rest of tests/e2e, so the sync API runs outside pytest-asyncio's loop.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
# Chromium's background traffic is refused by a closed network, many connections at a time: turn it off.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1280, "height": 900}


def chromium_path() -> str:
    found = os.environ.get("PARS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("chromium is missing: run deploy/local/chromium.sh (make test does) or set PARS_CHROMIUM")
    return found


def output_dir() -> Path:
    """Where a test run keeps what it saves for people to look at (screenshots): PARS_TEST_OUTPUT or .local."""
    folder = Path(os.environ.get("PARS_TEST_OUTPUT", ROOT / ".local" / "test-output"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save the page as <output>/screenshots/<name>.png and answer the path."""
    path = output_dir() / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path


# Per module, not per session: while Playwright's sync driver runs, its event loop is the thread's running loop, so
# every later test calling asyncio.run() in the same session would fail. Stopped, it leaves no loop behind.
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    launched = playwright_driver.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (its own cookies and storage) per test."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()
