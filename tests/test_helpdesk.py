"""Help requests reach the municipal API for real (the sandbox on loopback), say so when they
could not be delivered and keep trying while it is down, are withdrawn when the citizen cancels
or walks away, and close when staff answer. Help extends the idle timeout, never suspends it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests

from kiosk.sandbox import SandboxServer, create_app
from kiosk.sandbox.help_requests import HelpRequests
from kiosk.shell.helpdesk import DELIVERED, NO_REQUEST, NOT_DELIVERED, SENDING, HelpDesk, HttpHelpTransport
from kiosk.shell.idle import IdleMonitor, IdlePhase, ManualClock


def wait_for(condition, timeout: float = 10.0) -> None:
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not condition():
            if done.wait(0.02):
                raise AssertionError("condition not met in time")
    finally:
        deadline.cancel()


class Sandbox:
    """A sandbox API that can be stopped and started again on the same loopback port."""

    def __init__(self, data: Path):
        self.help = HelpRequests()
        self.app = create_app(data_dir=data)
        self.help.install(self.app)
        self.server = SandboxServer(self.app, port=0).start()
        self.port = self.server.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop()

    def restart(self) -> None:
        self.app.stop_event.clear()
        self.server = SandboxServer(self.app, port=self.port).start()


@pytest.fixture
def sandbox(tmp_path):
    server = Sandbox(tmp_path / "sandbox")
    yield server
    server.stop()


def make_desk(url: str, clock: ManualClock | None = None) -> tuple[HelpDesk, IdleMonitor]:
    idle = IdleMonitor(60, 30, now=clock or ManualClock())
    idle.start()
    desk = HelpDesk("kiosk-7", "Plaza Norte, local 12", idle, transport=HttpHelpTransport(url, timeout_s=2),
                    retry_base_s=0.05, retry_cap_s=0.2, poll_s=0.05)
    return desk, idle


def refusing_url() -> str:
    """A loopback port nobody listens on: connections are refused at once."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_request_is_filed_then_answered_by_staff(sandbox):
    desk, idle = make_desk(sandbox.url)
    request = desk.request("procedure")
    assert idle.effective_timeout_s == 60 + desk.extra_idle_s and not idle.paused
    wait_for(lambda: desk.delivered)
    assert desk.delivery == DELIVERED
    filed = sandbox.help.requests[request.id]
    assert filed["kiosk"] == "kiosk-7" and filed["location"] == "Plaza Norte, local 12"
    assert set(filed) == {"id", "kiosk", "location", "screen", "status", "received_at"}  # nothing personal
    requests.post(f"{sandbox.url}/v1/sandbox/help-requests/{request.id}/answer", timeout=5)
    wait_for(lambda: desk.open_request is None)
    assert desk.delivery == NO_REQUEST and idle.effective_timeout_s == 60


def test_request_waits_while_the_api_is_down_and_goes_when_it_returns(sandbox):
    sandbox.stop()
    desk, _ = make_desk(sandbox.url)
    heard: list[str] = []
    desk.on_change(lambda: heard.append(desk.delivery))
    request = desk.request("home")
    wait_for(lambda: desk.failed_attempts >= 3)  # it keeps trying while the API is away
    assert not desk.delivered and desk.delivery == NOT_DELIVERED
    assert heard == [NOT_DELIVERED], "the screen hears once that the call did not go through"
    sandbox.restart()
    wait_for(lambda: desk.delivered)
    assert sandbox.help.requests[request.id]["status"] == "open"
    assert heard == [NOT_DELIVERED, DELIVERED]


def test_a_refused_connection_is_not_delivered_and_says_so_at_once():
    desk, _ = make_desk(refusing_url())
    desk.request("identify")
    assert desk.delivery in (SENDING, NOT_DELIVERED)
    wait_for(lambda: desk.delivery == NOT_DELIVERED)
    desk.close("cancelled")
    assert desk.delivery == NO_REQUEST and desk.failed_attempts == 0


def test_help_extends_the_idle_timeout_but_a_citizen_who_walks_away_is_still_wiped(sandbox):
    clock = ManualClock()
    desk, idle = make_desk(sandbox.url, clock)
    request = desk.request("identify")
    wait_for(lambda: desk.delivered)
    clock.advance(60 + desk.extra_idle_s - 1)
    assert idle.state().phase is IdlePhase.ACTIVE, "more time than usual while help is on its way"
    clock.advance(2)
    assert idle.state().phase is IdlePhase.WARNING, "but '¿Sigue ahí?' still comes"
    clock.advance(idle.warning_s)
    assert idle.state().phase is IdlePhase.EXPIRED
    desk.close("wiped")  # what the session's wipe does
    wait_for(lambda: sandbox.help.requests[request.id]["status"] == "cancelled")
    assert idle.effective_timeout_s == 60


def test_cancel_withdraws_it_at_the_api(sandbox):
    desk, idle = make_desk(sandbox.url)
    request = desk.request("menu")
    wait_for(lambda: desk.delivered)
    desk.close("cancelled")
    assert not idle.paused
    wait_for(lambda: sandbox.help.requests[request.id]["status"] == "cancelled")


def test_filing_twice_with_the_same_id_keeps_one(sandbox):
    body = {"id": "ab12cd34", "location": "x", "screen": "home"}
    url = f"{sandbox.url}/v1/kiosks/k1/help-requests"
    assert requests.post(url, json=body, timeout=5).status_code == 201
    assert requests.post(url, json=body, timeout=5).status_code == 201
    assert len(sandbox.help.requests) == 1
    assert requests.post(url, data=b"{", timeout=5).status_code == 400
