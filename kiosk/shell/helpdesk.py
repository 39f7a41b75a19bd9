"""Calls for a person: a citizen asks for help and an attendant comes.

A request names the kiosk, its location and the screen the citizen was on, nothing personal.
While one is open the idle timeout is extended (HELP_EXTRA_IDLE_S), never suspended: a citizen
who asked for help and walked away still gets "¿Sigue ahí?" and then the wipe, which closes
the request and clears what they typed. A worker thread delivers it to the municipal API
(`POST /v1/kiosks/{id}/help-requests`), retrying with full-jitter backoff while the network is
down (the request waits in memory: it only matters while the citizen is standing there), then
polls until staff mark it answered. `delivery` says where it stands, so the screen never
promises a person who was never called. Cancelling, or the session ending, withdraws it at the
API too.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from kiosk.core.errors import ShellError
from kiosk.core.logs import event
from kiosk.core.threads import CallSoon, immediate, run_in_thread
from kiosk.shell.idle import IdleMonitor

if TYPE_CHECKING:
    import requests

log = logging.getLogger("kiosk.help")
IDLE_EXTENSION = "help-request"
HELP_EXTRA_IDLE_S = 120.0
"""Added to the idle timeout while help is on its way: with the default 60 s, the warning comes
after 3 minutes without a touch. Long enough for staff to walk over, short enough that what a
citizen typed does not stay on screen for long after they leave."""

# Where a help request stands, as `HelpDesk.delivery` reports it.
NO_REQUEST, SENDING, DELIVERED, NOT_DELIVERED = "none", "sending", "delivered", "not_delivered"


@dataclass(frozen=True)
class HelpRequest:
    kiosk_id: str
    location: str
    screen: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)


class HelpTransport(Protocol):
    def send(self, request: HelpRequest) -> None: ...
    def status(self, request: HelpRequest) -> str: ...  # "open", "answered" or "cancelled"
    def cancel(self, request: HelpRequest) -> None: ...


class TransportError(ShellError):
    code = "help.transport"


class NoTransport:
    """A kiosk with no API configured: the request shows on screen only."""

    def send(self, request: HelpRequest) -> None:
        raise TransportError("no municipal API configured")

    def status(self, request: HelpRequest) -> str:
        return "open"

    def cancel(self, request: HelpRequest) -> None:
        return None


class HttpHelpTransport:
    def __init__(self, base_url: str, timeout_s: float):
        # requests loads on first use, in the worker thread, not at start-up
        self._session: requests.Session | None = None
        self._base = base_url.rstrip("/")
        self._timeout = (min(timeout_s, 5.0), timeout_s)

    def _url(self, request: HelpRequest, suffix: str = "") -> str:
        return f"{self._base}/v1/kiosks/{request.kiosk_id}/help-requests{suffix}"

    def _call(self, method: str, url: str, **kwargs) -> dict:
        import requests

        if self._session is None:
            self._session = requests.Session()
        try:
            response = self._session.request(method, url, timeout=self._timeout, **kwargs)
        except requests.RequestException as error:
            raise TransportError(type(error).__name__) from None
        if response.status_code >= 300:
            raise TransportError(f"HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise TransportError("the answer is not JSON") from None

    def send(self, request: HelpRequest) -> None:
        body = {"id": request.id, "location": request.location, "screen": request.screen,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(request.created_at))}
        self._call("POST", self._url(request), json=body, headers={"Idempotency-Key": request.id})

    def status(self, request: HelpRequest) -> str:
        return str(self._call("GET", self._url(request, f"/{request.id}")).get("status", "open"))

    def cancel(self, request: HelpRequest) -> None:
        self._call("DELETE", self._url(request, f"/{request.id}"))


class HelpDesk:
    """The open help request, if any, and its delivery. Listeners hear about every change
    (on the thread given by `call_soon`, the UI thread in the app)."""

    def __init__(self, kiosk_id: str, location: str, idle: IdleMonitor,
                 transport: HelpTransport | None = None,
                 call_soon: CallSoon = immediate,
                 retry_base_s: float = 2.0, retry_cap_s: float = 30.0, poll_s: float = 5.0,
                 extra_idle_s: float = HELP_EXTRA_IDLE_S):
        self.kiosk_id = kiosk_id
        self.location = location
        self._idle = idle
        self.transport: HelpTransport = transport or NoTransport()
        self.call_soon = call_soon
        self.retry_base_s, self.retry_cap_s, self.poll_s = retry_base_s, retry_cap_s, poll_s
        self.extra_idle_s = extra_idle_s
        self.open_request: HelpRequest | None = None
        self.delivered = False
        self.failed_attempts = 0  # for the current request; the technician screen shows it
        self._stop = threading.Event()
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    @property
    def delivery(self) -> str:
        """NO_REQUEST, SENDING (first attempt under way), DELIVERED, or NOT_DELIVERED (an attempt
        failed; retries go on in the background until it is delivered or closed)."""
        if self.open_request is None:
            return NO_REQUEST
        if self.delivered:
            return DELIVERED
        return NOT_DELIVERED if self.failed_attempts else SENDING

    def request(self, screen: str) -> HelpRequest:
        if self.open_request is None:
            self.open_request = HelpRequest(self.kiosk_id, self.location, screen)
            self.delivered = False
            self.failed_attempts = 0
            self._stop = threading.Event()
            threading.Thread(target=self._deliver, args=(self.open_request, self._stop),
                             name="help-request", daemon=True).start()
            event(log, "help.requested", request=self.open_request.id[:8], screen=screen)
        self._idle.extend(IDLE_EXTENSION, self.extra_idle_s)
        return self.open_request

    def close(self, outcome: str) -> None:
        """outcome: 'cancelled' by the citizen, 'answered' by staff at the API's console,
        'answered_here' by an attendant logged in at this kiosk, or 'wiped' with the session."""
        request, delivered = self.open_request, self.delivered
        self._stop.set()
        self.open_request = None
        self.delivered = False
        self.failed_attempts = 0
        self._idle.unextend(IDLE_EXTENSION)
        if request is None:
            return
        event(log, "help.closed", request=request.id[:8], outcome=outcome)
        if delivered and outcome != "answered":
            run_in_thread(lambda: self._withdraw(request), "help-cancel")
        self._announce()

    # -- worker side ----------------------------------------------------------------------------
    def _deliver(self, request: HelpRequest, stop: threading.Event) -> None:
        attempt = 0
        while not stop.is_set():
            try:
                self.transport.send(request)
                break
            except TransportError as error:
                attempt += 1
                event(log, "help.send_failed", level=logging.WARNING, request=request.id[:8],
                      attempt=attempt, reason=str(error))
                self.call_soon(functools.partial(self._mark_failed, request, attempt))
                stop.wait(random.uniform(0, min(self.retry_cap_s, self.retry_base_s * 2 ** attempt)))
        if stop.is_set():
            return
        self.call_soon(lambda: self._mark_delivered(request))
        while not stop.wait(self.poll_s):
            try:
                if self.transport.status(request) == "answered":
                    self.call_soon(lambda: self._answered(request))
                    return
            except TransportError:
                continue  # keep waiting; the request is already with staff

    def _mark_delivered(self, request: HelpRequest) -> None:
        if self.open_request is request:
            self.delivered = True
            event(log, "help.delivered", request=request.id[:8])
            self._announce()

    def _mark_failed(self, request: HelpRequest, attempts: int) -> None:
        if self.open_request is request and not self.delivered:
            first = not self.failed_attempts
            self.failed_attempts = attempts
            if first:
                self._announce()  # the screen stops saying "sending" and says where staff are

    def _answered(self, request: HelpRequest) -> None:
        if self.open_request is request:
            self.close("answered")

    def _withdraw(self, request: HelpRequest) -> None:
        try:
            self.transport.cancel(request)
        except TransportError as error:
            event(log, "help.cancel_failed", level=logging.WARNING, request=request.id[:8], reason=str(error))

    def _announce(self) -> None:
        for listener in list(self._listeners):
            listener()
