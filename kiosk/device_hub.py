"""The kiosk's devices, as the configuration lists them, opened and watched off the UI thread.

A device left out of the configuration is simply absent, and the kiosk offers only what its
devices allow (no printer: no "Imprimir"). Events and results reach the UI through `call_soon`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from kiosk.logs import event

log = logging.getLogger("kiosk.devices")


class DeviceHub:
    def __init__(self, entries: Mapping[str, Any], call_soon: Callable[[Callable[[], None]], None]):
        from devices.registry import create_adapters
        from devices.supervisor import Supervisor

        self.adapters = create_adapters(entries, call_soon)
        self.supervisor = Supervisor(self.adapters, interval_s=2.0)

    def start(self) -> None:
        self.supervisor.start()
        event(log, "devices.started", devices=",".join(sorted(self.adapters)) or "none")

    def stop(self) -> None:
        self.supervisor.stop()

    def get(self, name: str) -> Any | None:
        return self.adapters.get(name)
