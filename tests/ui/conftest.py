"""UI harness: the real kiosk app in one offscreen SDL2 window for the whole process.

Kivy reads its environment at import, so the test configuration is applied here, before any
Kivy import. Each test gets a fresh app (new context, manual clock) in the shared window and
drives it with real touches through kiosk.ui.uidriver. A failing test leaves a screenshot in
tests/screenshots/<test name>.png. A test whose app's UI guard (kiosk.ui.ui_guard) caught an
exception fails at teardown, unless the test injected it and cleared `app.guard.caught`.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.core.config import load_config
from kiosk.core.threads import is_ui_thread
from kiosk.shell.idle import ManualClock
from kiosk.ui import kivyenv
from offline_cache.sqlite import watch_statements

SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "screenshots"
_DATA_DIR = tempfile.mkdtemp(prefix="kiosk-ui-tests-")
CRAWL_SUMMARIES: list[str] = []  # tests/ui/test_crawl.py: printed at the end of the run


def _test_config():
    config = load_config()  # the bundled default, as `make demo` uses it
    kiosk = dataclasses.replace(config.kiosk, data_dir=_DATA_DIR)
    display = dataclasses.replace(config.display, fullscreen=False)
    api = dataclasses.replace(config.api, public_key="")  # no background sync: tests choose the catalog
    fleet = dataclasses.replace(config.fleet, metrics_port=0)  # tests/fleet serve metrics; apps here need no port
    return dataclasses.replace(config, kiosk=kiosk, display=display, api=api, fleet=fleet)


TEST_CONFIG = _test_config()
kivyenv.prepare(TEST_CONFIG, headless=True)

# Every database opened or written on the UI thread during a UI test, whatever the test does:
# disk work there freezes the screen (sqlite3's trace callback runs in the thread that runs the
# statement; offline_cache.sqlite.watch_statements hands it every connection the kiosk opens).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "BEGIN", "COMMIT", "VACUUM")
UI_THREAD_DISK: list[str] = []


def _watch_ui_thread(statement: str) -> None:
    from kiosk.ui import uidriver

    if not (is_ui_thread() and uidriver.running_app_code()):
        return  # a worker's, or the test's own set-up on the main thread
    words = statement.lstrip().upper()
    if words.startswith("OPEN ") or words.startswith(_WRITES) or words.startswith("PRAGMA WAL_CHECKPOINT"):
        UI_THREAD_DISK.append(statement.strip()[:120])
        if os.environ.get("KIOSK_TRACE_UI_DISK"):
            traceback.print_stack(limit=14)


watch_statements(_watch_ui_thread)


@pytest.fixture(autouse=True)
def no_database_work_on_the_ui_thread():
    UI_THREAD_DISK.clear()
    yield
    found, UI_THREAD_DISK[:] = list(UI_THREAD_DISK), []
    assert found == [], f"the UI thread opened or wrote a database {len(found)} time(s), first: {found[:3]}"


@pytest.fixture(scope="session")
def window():
    from kivy.base import EventLoop

    EventLoop.ensure_window()
    return EventLoop.window


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(tmp_path):
    """The sandbox municipal API on loopback, fresh for each test (accounts owe again)."""
    from kiosk.sandbox import SandboxServer, create_app, install_extensions

    api = create_app(data_dir=tmp_path / "sandbox")
    install_extensions(api)
    server = SandboxServer(api, port=0).start()
    yield server
    server.stop()


@pytest.fixture
def config(sandbox, tmp_path):
    """The demo configuration, pointed at this test's sandbox and data directory."""
    kiosk = dataclasses.replace(TEST_CONFIG.kiosk, data_dir=str(tmp_path / "data"))
    api = dataclasses.replace(TEST_CONFIG.api, base_url=sandbox.url)
    return dataclasses.replace(TEST_CONFIG, kiosk=kiosk, api=api)


@pytest.fixture
def app(window, clock, config) -> Iterator:
    from kiosk.context import build_context
    from kiosk.ui import uidriver
    from kiosk.ui.app import KioskApp

    kiosk_app = uidriver.start_app(KioskApp(build_context(config, now=clock)))
    try:
        yield kiosk_app
    finally:
        uidriver.stop_app(kiosk_app)
    guard = kiosk_app.guard
    if guard.caught:
        pytest.fail(f"the UI guard caught {guard.caught} exception(s), the last {guard.last_code} "
                    "(its ui.unexpected_error log line says where)")


@pytest.fixture(scope="session")
def sample_snapshot():
    from kiosk.flows.journey import sample_snapshot as build

    return build(TEST_CONFIG.kiosk.languages)


@pytest.fixture
def catalog_app(app, sample_snapshot, ui):
    """The app showing the bundled sample catalog, as if it had just synced it."""
    from kiosk.ui.tour import wait_for_payments

    app.ctx.catalog.replace(sample_snapshot)
    wait_for_payments(app.ctx, ui)
    return app


@pytest.fixture
def ui():
    from kiosk.ui import uidriver
    return uidriver


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "app" in item.fixturenames:
        from kiosk.ui import uidriver
        path = uidriver.screenshot(SCREENSHOT_DIR / f"{item.name}.png")
        report.sections.append(("screenshot", str(path)))


UI_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items) -> None:
    """Every test under tests/ui drives the real app: mark it `ui` (setup.cfg), so that
    `pytest -m ui` selects them and `pytest -m "not ui"` leaves them out. This hook sees the
    whole session's items, hence the path check."""
    for item in items:
        if UI_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.ui)


def pytest_terminal_summary(terminalreporter) -> None:
    for line in CRAWL_SUMMARIES:
        terminalreporter.write_line(line)


def wake(ui) -> None:
    """Touch the attract screen so a session starts on home."""
    ui.tap(ui.find(id="invitation"))


@pytest.fixture
def pay_app(window, clock, config, sample_snapshot, ui):
    from kiosk.context import build_context
    from kiosk.ui.app import KioskApp

    app = ui.start_app(KioskApp(build_context(config, now=clock)))
    try:  # whatever happens, the next test must find the window empty
        app.ctx.catalog.replace(sample_snapshot)
        ui.pump_until(lambda: app.ctx.payments is not None, timeout_s=15)
        ui.pump_until(lambda: all(app.devices.get(name).status().state.value == "ready"
                                  for name in ("printer", "payment")), timeout_s=15)
        yield app
    finally:
        ui.stop_app(app)
