"""The device supervisor: opens every adapter off the UI thread, probes them periodically, and
reopens the ones that failed (unplugged, port gone, worker or monitor thread dead), with
backoff. Reconnects and restarts are counted in each adapter's `Status.counters`.

A device unplugged and plugged back is picked up by this loop without restarting the app.
Adapters marked `self_healing` (the card reader, which reconnects to pcscd by itself) are only
restarted when their own thread has died.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from .contract import FAILED_STATES, Adapter, State, Status, log, log_event

Clock = Callable[[], float]


class Supervisor:
    def __init__(self, adapters: Mapping[str, Adapter], interval_s: float = 2.0, backoff_max_s: float = 30.0,
                 clock: Clock = time.monotonic):
        self.adapters = dict(adapters)
        self.interval_s = interval_s
        self.backoff_max_s = backoff_max_s
        self._clock = clock
        self._next_attempt: dict[str, float] = {}
        self._backoff: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Open everything and keep watching, all on the supervisor's own thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="device-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 10)
        for adapter in self.adapters.values():
            adapter.close()

    def statuses(self) -> dict[str, Status]:
        return {name: adapter.status() for name, adapter in self.adapters.items()}

    def _run(self) -> None:
        # In parallel: a printer that takes its full timeout must not hold up the card reader.
        openers = [threading.Thread(target=adapter.open, name=f"open-{name}", daemon=True)
                   for name, adapter in self.adapters.items()]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(timeout=60)
        while not self._stop.wait(self.interval_s):
            self.check_once()

    def needs_restart(self, adapter: Adapter) -> bool:
        state = adapter.status().state
        if not adapter.alive():
            return True
        if getattr(adapter, "self_healing", False):
            return False
        return state in FAILED_STATES or state == State.CLOSED

    def check_once(self) -> None:
        for name, adapter in self.adapters.items():
            if self._stop.is_set():
                return
            if self.needs_restart(adapter):
                self._try_restart(name, adapter)
            elif adapter.status().state != State.BUSY:
                adapter.refresh()

    def _try_restart(self, name: str, adapter: Adapter) -> None:
        now = self._clock()
        if now < self._next_attempt.get(name, 0.0):
            return
        if adapter.restart():
            log_event(log, "device.reconnected", device=name, reconnects=adapter.status().counters.reconnects)
            self._backoff.pop(name, None)
            self._next_attempt.pop(name, None)
            return
        delay = min(self._backoff.get(name, self.interval_s / 2) * 2, self.backoff_max_s)
        self._backoff[name] = delay
        self._next_attempt[name] = now + delay
