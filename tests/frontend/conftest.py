"""Browser tests: Python playwright driving the system Chromium (never `playwright install`), against the live server.

They skip, saying why, when the playwright package or Chromium is missing; they fail when the web UI is not built
(`make test` builds it first). Screenshots go to var/screenshots/ (SCREENSHOT_DIR), named in the run's summary.

Playwright's sync API keeps an event loop running in this thread, and Django refuses ORM calls while one runs: so the
browser lives for one test only, and a test asks for its data fixtures BEFORE `page` (they are set up before the
browser starts, and the database is flushed after it stops). The test body itself makes no ORM call.
"""

import asyncio
import os
import sys
import threading
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


class AsgiLiveServer:
    """daphne serving trading.asgi.application (HTTP, static files and websockets) on a free port, in a thread of
    the test process: it reads the same test database as the test (SQLite's shared in-memory database too), which a
    separate daphne process could not."""

    def __init__(self):
        self.port: int | None = None
        self._reactor = None
        self._ready = threading.Event()
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._serve, name="asgi-live-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "AsgiLiveServer":
        self._thread.start()
        if not self._ready.wait(15) or self._errors:
            raise RuntimeError(f"daphne did not start: {self._errors}")
        return self

    def stop(self) -> None:
        if self._reactor is not None:
            self._reactor.callFromThread(self._reactor.stop)
        self._thread.join(15)

    def _serve(self) -> None:
        try:
            # A fresh reactor on this thread's own event loop (Twisted's reactor runs once per install).
            sys.modules.pop("twisted.internet.reactor", None)
            sys.modules.pop("daphne.server", None)
            from twisted.internet import asyncioreactor

            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            asyncioreactor.install(loop)
            from daphne.server import Server
            from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
            from twisted.internet import reactor

            from trading.asgi import application

            server = Server(
                application=ASGIStaticFilesHandler(application),
                endpoints=["tcp:port=0:interface=127.0.0.1"],
                signal_handlers=False,
            )

            def ready():
                if server.listening_addresses:
                    self.port, self._reactor = server.listening_addresses[0][1], reactor
                    self._ready.set()
                else:
                    reactor.callLater(0.05, ready)

            reactor.callLater(0.05, ready)
            server.run()
        except BaseException as error:  # reported by start()
            self._errors.append(error)
            self._ready.set()


@pytest.fixture
def asgi_live_server(transactional_db):
    """The app on daphne, websockets included (pytest-django's live_server is WSGI: pages and REST only).
    Ask for it, like data fixtures, before `page`."""
    server = AsgiLiveServer().start()
    yield server
    server.stop()


def pytest_terminal_summary(terminalreporter):
    if _taken:
        terminalreporter.write_line(f"browser screenshots ({len(_taken)}): {SCREENSHOTS}/")
