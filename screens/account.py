"""Paying, step 1: the citizen types the account number printed on the bill."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from kiosk.navtree import text_in
from kiosk.payment_flow import ACCOUNT_EXAMPLES
from screens.common import KioskScreen, load_kv, tr
from screens.keyboard import apply_key


class AccountScreen(KioskScreen):
    _unsubscribe = None
    reference = StringProperty("")
    prompt = StringProperty("")
    busy = BooleanProperty(False)

    def show(self, params: Mapping[str, Any]) -> None:
        flow = self.ctx.payments
        self.title = text_in((flow.procedure or {}).get("name"), self.ctx.translator.language)
        example = ACCOUNT_EXAMPLES.get(flow.account_kind, "")
        if flow.account_kind == "numero_contrato_agua":
            self.prompt = tr._("Escriba su número de contrato de agua. Está en su recibo, por ejemplo {example}.")
        else:
            self.prompt = tr._("Escriba su clave catastral. Está en su recibo del predial, por ejemplo {example}.")
        self.prompt = self.prompt.format(example=example)
        if self.ctx.device("scanner") is not None:
            self.prompt += " " + tr._("También puede acercar el código de su recibo al lector.")
        self.ids.status.text = ""

    def reset(self) -> None:
        self.reference = ""
        self.busy = False
        self.ids.status.text = ""
        self._stop_listening()

    def on_pre_enter(self, *args: Any) -> None:
        super().on_pre_enter(*args)
        scanner = self.ctx.device("scanner")
        if scanner is not None and self._unsubscribe is None:
            self._unsubscribe = scanner.subscribe(self._scanned)

    def on_leave(self, *_args: Any) -> None:
        self._stop_listening()

    def _stop_listening(self) -> None:
        unsubscribe, self._unsubscribe = getattr(self, "_unsubscribe", None), None
        if unsubscribe is not None:
            unsubscribe()

    def _scanned(self, device_event) -> None:
        """The bill's code under the scanner: no typing needed."""
        if device_event.kind != "scan" or self.busy:
            return
        data = device_event.data
        self.reference = str(data["reference"])
        flow = self.ctx.payments
        if flow.online or "amount_cents" not in data:
            self.look_up()
            return
        concept = str(data.get("concept") or self.title)
        flow.use_printed_bill(self.reference, int(data["amount_cents"]), concept)
        self.ctx.navigator.go("bill")

    def type_key(self, key: str) -> None:
        self.reference = apply_key(self.reference, key, limit=32).lstrip()
        self.ids.status.text = ""

    def look_up(self) -> None:
        if not self.reference.strip() or self.busy:
            return
        self.busy = True
        self.ids.status.text = tr._("Consultando su adeudo…")
        self.ctx.payments.lookup(self.reference, self._looked_up)

    def _looked_up(self, problem) -> None:
        self.busy = False
        if problem is None:
            self.ctx.navigator.go("bill")
        else:
            self.ids.status.text = problem.text(self.ctx.translator.language)


load_kv(__file__)
