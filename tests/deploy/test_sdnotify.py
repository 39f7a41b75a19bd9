"""kiosk.core.sdnotify against real unix datagram sockets, the way systemd listens: a socket path and
the abstract '@' form; and a watchdog test in which this test plays systemd's part for a child
process that pings from the Kivy clock, then freezes."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.core import sdnotify
from tests.deploy.conftest import REPO


class NotifySocket:
    """A datagram socket bound like systemd's notify socket; `address` goes in $NOTIFY_SOCKET."""

    def __init__(self, address: str):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)

    def receive(self, timeout: float = 2.0) -> str:
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode("utf-8")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    address = str(tmp_path / "notify") if request.param == "path" else f"@kiosk-test-{uuid.uuid4().hex}"
    server = NotifySocket(address)
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    yield server
    server.close()


def test_ready_status_watchdog_and_stopping_arrive_as_systemd_expects(listener: NotifySocket) -> None:
    assert sdnotify.ready("Pantalla de inicio")
    assert listener.receive() == "READY=1\nSTATUS=Pantalla de inicio"
    assert sdnotify.ping_watchdog()
    assert listener.receive() == "WATCHDOG=1"
    assert sdnotify.status("Sincronizando catálogo")
    assert listener.receive() == "STATUS=Sincronizando catálogo"
    assert sdnotify.stopping()
    assert listener.receive() == "STOPPING=1"
    assert sdnotify.ready()
    assert listener.receive() == "READY=1"


def test_outside_systemd_every_call_is_a_quiet_no_op(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.ready("x") is False and sdnotify.ping_watchdog() is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert sdnotify.ping_watchdog() is False       # systemd gone: never an exception in the UI thread
    monkeypatch.setenv("NOTIFY_SOCKET", f"@kiosk-test-{uuid.uuid4().hex}")
    assert sdnotify.ping_watchdog() is False


def test_watchdog_interval_is_half_the_period_for_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert sdnotify.watchdog_interval_s() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")      # WatchdogSec=30 in kiosk.service
    assert sdnotify.watchdog_interval_s() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval_s() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))   # the watchdog is some other process's
    assert sdnotify.watchdog_interval_s() is None
    monkeypatch.delenv("WATCHDOG_PID")
    monkeypatch.setenv("WATCHDOG_USEC", "soon")
    assert sdnotify.watchdog_interval_s() is None


# The child: what kiosk/ui/app.py does (READY on the first frame, WATCHDOG=1 from the Kivy clock),
# then a UI callback that never returns.
CHILD = textwrap.dedent("""
    import time
    from kivy.clock import Clock
    from kiosk.core import sdnotify
    interval = sdnotify.watchdog_interval_s()
    assert interval is not None, "watchdog not armed"
    Clock.schedule_once(lambda dt: sdnotify.ready("first screen drawn"), 0)
    Clock.schedule_interval(lambda dt: sdnotify.ping_watchdog(), interval)

    def frozen_ui(dt):
        sdnotify.status("about to freeze")
        while True:
            time.sleep(0.05)

    Clock.schedule_once(frozen_ui, 2.5)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        Clock.tick()
""")


def test_a_frozen_kivy_clock_stops_the_pings_and_the_watchdog_fires(tmp_path: Path) -> None:
    period = 1.0                                    # WatchdogSec=1 s for the test
    server = NotifySocket(f"@kiosk-test-{uuid.uuid4().hex}")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KIVY_", "WATCHDOG_"))}
    env.update(NOTIFY_SOCKET=server.address, WATCHDOG_USEC=str(int(period * 1e6)), PYTHONFAULTHANDLER="1",
               KIVY_NO_ARGS="1", KIVY_NO_CONFIG="1", KIVY_NO_FILELOG="1", KIVY_NO_CONSOLELOG="1",
               KIVY_HOME=str(tmp_path / "kivy"), PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    messages: list[tuple[float, str]] = []
    fired_after: float | None = None
    try:
        # Play systemd: wait up to 15 s for READY (Kivy's import is slow on a busy machine),
        # then require WATCHDOG=1 at least every `period` seconds, or "kill" the service.
        first = server.receive(timeout=15)
        messages.append((time.monotonic(), first))
        last_ping = time.monotonic()
        while time.monotonic() - last_ping < period:
            try:
                text = server.receive(timeout=max(0.01, period - (time.monotonic() - last_ping)))
            except TimeoutError:
                break
            messages.append((time.monotonic(), text))
            if text == "WATCHDOG=1":
                last_ping = time.monotonic()
        fired_after = time.monotonic() - last_ping
        child.send_signal(signal.SIGABRT)           # systemd's WatchdogSignal= in kiosk.service
        _, stderr = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate(timeout=10)
        server.close()

    texts = [text for _, text in messages]
    assert texts[0] == "READY=1\nSTATUS=first screen drawn", texts
    pings = [stamp for stamp, text in messages if text == "WATCHDOG=1"]
    assert len(pings) >= 3, f"too few pings before the freeze: {texts}"
    assert max(b - a for a, b in itertools.pairwise(pings)) < period
    assert "STATUS=about to freeze" in texts
    assert fired_after is not None and fired_after >= period
    assert child.returncode == -signal.SIGABRT
    # PYTHONFAULTHANDLER=1 (set in kiosk.service) leaves the frozen stack in the journal.
    assert "frozen_ui" in stderr, stderr[-2000:]
