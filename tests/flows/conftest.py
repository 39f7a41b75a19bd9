"""View-model tests: plain fakes for the services, and a synchronous `call_soon` and
`run_in_background` (each calls its argument at once), so a whole payment or staff task runs in
the test's thread, in order, in microseconds. No Kivy, no network, no devices, no sleeping."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from kiosk.core.i18n import Translator
from kiosk.shell.idle import IdleMonitor, ManualClock
from kiosk.shell.navigation import Navigator
from kiosk.shell.session import SessionController

IDLE_TIMEOUT_S, IDLE_WARNING_S = 60.0, 30.0


def at_once(work: Callable[[], None]) -> None:
    """The app's `call_soon` (Clock.schedule_once) and the flows' worker thread, made synchronous."""
    work()


@pytest.fixture
def shell() -> SimpleNamespace:
    """The real shell around every screen (navigator, idle monitor, citizen session) on a manual
    clock, with a citizen's session begun: these are what a payment or a staff panel holds."""
    clock = ManualClock()
    translator = Translator("es")
    navigator = Navigator()
    idle = IdleMonitor(IDLE_TIMEOUT_S, IDLE_WARNING_S, now=clock)
    sessions = SessionController("es", translator, navigator, idle)
    sessions.begin()
    return SimpleNamespace(clock=clock, translator=translator, navigator=navigator, idle=idle, sessions=sessions)
