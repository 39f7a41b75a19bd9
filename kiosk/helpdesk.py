"""Calls for a person: a citizen asks for help and an attendant comes.

A request names the kiosk and its location; while one is open the idle timer is paused so the
citizen is not wiped away while waiting. Requests carry no personal data.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from kiosk.idle import IdleMonitor
from kiosk.logs import event

log = logging.getLogger("kiosk.help")
IDLE_PAUSE = "help-request"


@dataclass(frozen=True)
class HelpRequest:
    kiosk_id: str
    location: str
    screen: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)


class HelpDesk:
    def __init__(self, kiosk_id: str, location: str, idle: IdleMonitor,
                 now: Callable[[], float] = time.time):
        self.kiosk_id = kiosk_id
        self.location = location
        self._idle = idle
        self._now = now
        self.open_request: HelpRequest | None = None

    def request(self, screen: str) -> HelpRequest:
        if self.open_request is None:
            self.open_request = HelpRequest(self.kiosk_id, self.location, screen, created_at=self._now())
            event(log, "help.requested", request=self.open_request.id[:8], screen=screen)
        self._idle.pause(IDLE_PAUSE)
        return self.open_request

    def close(self, outcome: str) -> None:
        """outcome: 'cancelled' by the citizen, 'answered' by staff, or 'wiped' with the session."""
        if self.open_request is not None:
            event(log, "help.closed", request=self.open_request.id[:8], outcome=outcome)
        self.open_request = None
        self._idle.resume(IDLE_PAUSE)
