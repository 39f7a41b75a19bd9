"""Help requests reach the municipal API for real (the sandbox on loopback), wait while it is
down, are withdrawn when the citizen cancels, and close when staff answer."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests

from kiosk.helpdesk import HelpDesk, HttpHelpTransport
from kiosk.idle import IdleMonitor, ManualClock
from kiosk.sandbox import SandboxServer, create_app
from kiosk.sandbox.help_requests import HelpRequests


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


def make_desk(url: str) -> tuple[HelpDesk, IdleMonitor]:
    idle = IdleMonitor(60, 30, now=ManualClock())
    idle.start()
    desk = HelpDesk("kiosk-7", "Plaza Norte, local 12", idle, transport=HttpHelpTransport(url, timeout_s=2),
                    retry_base_s=0.05, retry_cap_s=0.2, poll_s=0.05)
    return desk, idle


def test_request_is_filed_then_answered_by_staff(sandbox):
    desk, idle = make_desk(sandbox.url)
    request = desk.request("procedure")
    assert idle.paused
    wait_for(lambda: desk.delivered)
    filed = sandbox.help.requests[request.id]
    assert filed["kiosk"] == "kiosk-7" and filed["location"] == "Plaza Norte, local 12"
    assert set(filed) == {"id", "kiosk", "location", "screen", "status", "received_at"}  # nothing personal
    requests.post(f"{sandbox.url}/v1/sandbox/help-requests/{request.id}/answer", timeout=5)
    wait_for(lambda: desk.open_request is None)
    assert not idle.paused


def test_request_waits_while_the_api_is_down_and_goes_when_it_returns(sandbox):
    sandbox.stop()
    desk, _ = make_desk(sandbox.url)
    request = desk.request("home")
    wait_for(lambda: desk.failed_attempts >= 3)  # it keeps trying while the API is away
    assert not desk.delivered
    sandbox.restart()
    wait_for(lambda: desk.delivered)
    assert sandbox.help.requests[request.id]["status"] == "open"


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
