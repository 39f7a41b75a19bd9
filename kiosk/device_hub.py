"""The kiosk's devices, as the configuration lists them, opened and watched off the UI thread.

A device left out of the configuration is simply absent, and the kiosk offers only what its
devices allow (no printer: no "Imprimir"). Events and results reach the UI through `call_soon`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from kiosk.core.logs import event
from kiosk.core.threads import CallSoon, run_in_thread

log = logging.getLogger("kiosk.devices")


class DeviceHub:
    """Empty until `start()` has created the adapters on a worker thread (their drivers import
    slowly); `ready` then runs on the UI thread with the hub."""

    def __init__(self, entries: Mapping[str, Any], call_soon: CallSoon):
        self.entries = entries
        self.call_soon = call_soon
        self.adapters: dict[str, Any] = {}
        self.supervisor: Any = None
        self._stopped = threading.Event()

    def start(self, ready: Callable[[DeviceHub], None] = lambda _hub: None) -> None:
        run_in_thread(lambda: self._open(ready), "devices-open")

    def _open(self, ready: Callable[[DeviceHub], None]) -> None:
        from devices.registry import create_adapters
        from devices.supervisor import Supervisor

        adapters = create_adapters(self.entries, self.call_soon)
        supervisor = Supervisor(adapters, interval_s=2.0)
        if self._stopped.is_set():
            return
        self.adapters, self.supervisor = adapters, supervisor
        supervisor.start()
        event(log, "devices.started", devices=",".join(sorted(adapters)) or "none")
        self.call_soon(lambda: ready(self))

    def stop(self) -> None:
        self._stopped.set()
        if self.supervisor is not None:
            self.supervisor.stop()

    def get(self, name: str) -> Any | None:
        return self.adapters.get(name)
