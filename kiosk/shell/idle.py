"""Idle detection for a shared terminal: warn, count down, then wipe the session.

After `timeout_s` without a touch the monitor enters WARNING ("¿Sigue ahí?") for `warning_s`
seconds; any touch returns it to ACTIVE; at zero it is EXPIRED and the app wipes the session.
While something must not be interrupted (a payment in progress, a staff panel) callers hold a
pause: time does not count until every pause is released. Something that only needs more time
(a citizen waiting for help) holds an extension instead: the warning comes later, but it still
comes, so a citizen who walks away is still wiped. The clock is injected so tests move time
without sleeping.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass


class IdlePhase(enum.Enum):
    DORMANT = "dormant"  # no session (attract screen): nothing to time
    ACTIVE = "active"
    WARNING = "warning"
    EXPIRED = "expired"


@dataclass(frozen=True)
class IdleState:
    phase: IdlePhase
    seconds_left: float  # until the warning in ACTIVE, until the wipe in WARNING


class IdleMonitor:
    def __init__(self, timeout_s: float, warning_s: float, now: Callable[[], float] = time.monotonic):
        self.timeout_s = timeout_s
        self.warning_s = warning_s
        self._now = now
        self._last_touch = now()
        self._paused_at: float | None = None
        self._pauses: set[str] = set()
        self._extensions: dict[str, float] = {}
        self._running = False

    def start(self) -> None:
        """A citizen's session begins."""
        self._running = True
        self._pauses.clear()
        self._extensions.clear()
        self._paused_at = None
        self._last_touch = self._now()

    def stop(self) -> None:
        """The session ended; nothing is timed until the next start()."""
        self._running = False
        self._pauses.clear()
        self._extensions.clear()
        self._paused_at = None

    def touch(self) -> None:
        self._last_touch = self._now()

    def pause(self, reason: str) -> None:
        if not self._pauses:
            self._paused_at = self._now()
        self._pauses.add(reason)

    def resume(self, reason: str) -> None:
        if reason not in self._pauses:
            return
        self._pauses.discard(reason)
        if not self._pauses:
            # The paused span does not count as idle time, and the citizen gets a fresh budget.
            self._last_touch = self._now()
            self._paused_at = None

    def extend(self, reason: str, extra_s: float) -> None:
        """More time before the warning while `reason` holds; the longest extension applies."""
        self._extensions[reason] = max(0.0, extra_s)

    def unextend(self, reason: str) -> None:
        self._extensions.pop(reason, None)

    @property
    def paused(self) -> bool:
        return bool(self._pauses)

    @property
    def effective_timeout_s(self) -> float:
        """Seconds without a touch before the warning, extensions included."""
        return self.timeout_s + max(self._extensions.values(), default=0.0)

    def state(self) -> IdleState:
        if not self._running:
            return IdleState(IdlePhase.DORMANT, 0.0)
        timeout = self.effective_timeout_s
        if self._pauses:
            return IdleState(IdlePhase.ACTIVE, timeout)
        idle_for = self._now() - self._last_touch
        if idle_for < timeout:
            return IdleState(IdlePhase.ACTIVE, timeout - idle_for)
        if idle_for < timeout + self.warning_s:
            return IdleState(IdlePhase.WARNING, timeout + self.warning_s - idle_for)
        return IdleState(IdlePhase.EXPIRED, 0.0)


class ManualClock:
    """A clock that moves only when told to: for tests and the scripted tour."""

    def __init__(self, start: float = 1000.0):
        self.value = start

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds
