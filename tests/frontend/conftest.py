"""Browser tests: Python playwright driving the system Chromium (never `playwright install`), against the live server.

They skip, saying why, when the playwright package or Chromium is missing; they fail when the web UI is not built
(`make test` builds it first). Screenshots go to var/screenshots/ (SCREENSHOT_DIR), named in the run's summary.

Playwright's sync API keeps an event loop running in this thread, and Django refuses ORM calls while one runs: so the
browser lives for one test only, and a test asks for its data fixtures BEFORE `page` (they are set up before the
browser starts, and the database is flushed after it stops). The test body itself makes no ORM call.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "var" / "screenshots"))
_taken: list[Path] = []


def _why_no_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -r requirements/test.txt)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium not found at {CHROMIUM} (apt-get install -y chromium, or set CHROMIUM)"
    return None


@pytest.fixture
def browser(transactional_db, live_server):
    reason = _why_no_browser()
    if reason:
        pytest.skip(f"browser test skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    # live_server is WSGI (pytest-django): enough for pages and the REST API, not for websockets.
    """A fresh page (own cookies and storage) in UTC, so that Beijing times on screen prove the app converts them."""
    if not (settings.WEB_UI_DIR / "index.html").is_file():
        pytest.fail(f"the web UI is not built ({settings.WEB_UI_DIR} has no index.html): run `make frontend` first")
    context = browser.new_context(locale="zh-CN", timezone_id="UTC", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


@pytest.fixture
def screenshot(request):
    """screenshot(page, "name"): saves var/screenshots/<test>-<name>.png."""

    def take(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        page.locator(".el-loading-mask").first.wait_for(state="hidden")
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        _taken.append(path)
        return path

    return take


def pytest_terminal_summary(terminalreporter):
    if _taken:
        terminalreporter.write_line(f"browser screenshots ({len(_taken)}): {SCREENSHOTS}/")
