"""A real Chromium (Debian's package, /usr/bin/chromium) driven by Playwright, against real
servers. `playwright install` is not needed: the tests launch the system's browser.

Screenshots go to <pytest tmp>/screenshots, and also to $TRACKING_SCREENSHOTS when set
(e.g. TRACKING_SCREENSHOTS=docs/images)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.environment import cannot_run

CHROMIUM = Path(os.environ.get("TRACKING_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}

# (page, name[, selector]): the whole page, or only the element the selector finds.
Screenshot = Callable[..., Path]


# Module scope: while Playwright's sync API runs, this thread has a running event loop, which
# the asyncio tests of later modules cannot share.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        cannot_run(
            f"{CHROMIUM} not found: the browser tests need Debian's chromium package"
            " (make browser-deps installs it, as root)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


class PageWatch:
    """What a page did that the user would notice: script errors and dialogs."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []


def open_page(browser: Browser, watch: PageWatch, viewport: dict[str, int] = WIDE) -> Page:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    page.on("pageerror", lambda error: watch.errors.append(str(error)))

    def dialog(d: object) -> None:
        watch.dialogs.append(getattr(d, "message", "?"))
        d.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", dialog)
    page.set_default_timeout(30_000)
    return page


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def page(browser: Browser, watch: PageWatch) -> Iterator[Page]:
    page = open_page(browser, watch)
    yield page
    page.context.close()
    assert watch.errors == [], "the page raised script errors"


@pytest.fixture(scope="session")
def screenshot(tmp_path_factory: pytest.TempPathFactory) -> Screenshot:
    directory = tmp_path_factory.getbasetemp() / "screenshots"
    directory.mkdir(exist_ok=True)
    wanted = os.environ.get("TRACKING_SCREENSHOTS", "")
    keep = (ROOT / wanted) if wanted else None

    def take(page: Page, name: str, selector: str = "") -> Path:
        path = directory / f"{name}.png"
        if selector:
            page.locator(selector).screenshot(path=str(path))
        else:
            page.screenshot(path=str(path), full_page=True)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, keep / path.name)
        return path

    return take
