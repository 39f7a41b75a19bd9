"""Paying, step 1: the citizen types the account number printed on the bill.

The field starts empty at every lookup: on each arrival here, and again once a number has found
its bill (going back from the bill starts afresh too). It keeps what was typed only while the
citizen stays on this step (a language switch, an attendant's visit). Separators are optional:
the number is put in the bill's form before the lookup (kiosk.flows.forms.normalise_account).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from kiosk.catalog.navtree import text_in
from kiosk.core.threads import on_ui_thread
from kiosk.flows.forms import normalise_account
from kiosk.flows.payment import ACCOUNT_EXAMPLES
from screens.common import KioskScreen, load_kv, tr
from screens.keyboard import apply_key


class AccountScreen(KioskScreen):
    _unsubscribe = None
    reference = StringProperty("")
    prompt = StringProperty("")
    busy = BooleanProperty(False)
    status = StringProperty("")  # the lookup's progress or refusal, in the citizen's language
    _visit: Mapping[str, Any] | None = None  # the navigator's Place params of this arrival

    def show(self, params: Mapping[str, Any]) -> None:
        if params is not self._visit:  # a new arrival, not a redraw of this one
            self._visit = params
            self.reference = ""
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
        self.status = ""

    def reset(self) -> None:
        self.reference = ""
        self._visit = None
        self.busy = False
        self.status = ""
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

    @on_ui_thread
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
        self.reference = ""
        self.ctx.navigator.go("bill")

    def type_key(self, key: str) -> None:
        self.reference = apply_key(self.reference, key, limit=32).lstrip()
        self.status = ""

    def look_up(self) -> None:
        if not self.reference.strip() or self.busy:
            return
        self.reference = normalise_account(self.ctx.payments.account_kind, self.reference)
        self.busy = True
        self.status = tr._("Consultando su adeudo…")
        self.ctx.payments.lookup(self.reference, self._looked_up)

    @on_ui_thread
    def _looked_up(self, problem) -> None:
        self.busy = False
        if problem is None:
            self.reference = ""  # the next lookup starts empty, also after "Atrás" from the bill
            self.ctx.navigator.go("bill")
        else:
            self.status = problem.text(self.ctx.translator.gettext)


load_kv(__file__)
