"""What this kiosk can do for a procedure beyond showing it: pay, request, print its sheet.

An action is offered only when the services and devices it needs are configured; flows
register themselves here (the printed information sheet, payments and requests), so a kiosk
without a printer never shows "Imprimir".
"""

from __future__ import annotations

from collections.abc import Callable

Flow = Callable[[str], None]


class KioskActions:
    def __init__(self) -> None:
        self._flows: dict[str, Flow] = {}

    def register(self, key: str, flow: Flow) -> None:
        self._flows[key] = flow

    @property
    def available(self) -> frozenset[str]:
        return frozenset(self._flows)

    def start(self, key: str, procedure_id: str) -> None:
        self._flows[key](procedure_id)
