"""Paying, step 3: the card terminal or the cash acceptor, with what is happening at every moment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from screens.bill import pesos
from screens.common import KioskScreen, load_kv, tr

IDLE_PAUSE = "payment"


class PayingScreen(KioskScreen):
    method = StringProperty("")
    can_cancel = BooleanProperty(False)

    def show(self, params: Mapping[str, Any]) -> None:
        flow = self.ctx.payments
        self.method = params.get("method", "card")
        self.title = {"card": tr._("Pago con tarjeta"), "cash": tr._("Pago en efectivo")}.get(
            self.method, tr._("Enviando su solicitud"))
        self.ids.progress.text = ""
        problem = flow.pay(self.method, self._credited, self._finished)
        if problem is not None:
            self.ids.instructions.text = problem.text(self.ctx.translator.language)
            self.can_cancel = False
            return
        if self.method == "cash":
            self.ids.instructions.text = self._cash_instructions(flow)
        elif self.method == "free":
            self.ids.instructions.text = tr._("Registrando su solicitud…")
        else:
            self.ids.instructions.text = tr._("Siga las instrucciones de la terminal de pago. No retire su tarjeta "
                                              "hasta que la terminal lo indique.")
        self.ctx.idle.pause(IDLE_PAUSE)  # never wipe the screen while money is moving
        self.can_cancel = self.method == "cash"

    def _cash_instructions(self, flow) -> str:
        acceptance = flow.cash_acceptance()
        bills = ", ".join(pesos(c) for c in acceptance.bills_cents) or "-"
        coins = ", ".join(pesos(c) for c in acceptance.coins_cents) or "-"
        change = tr._("Esta máquina da cambio.") if acceptance.can_give_change else tr._(
            "Esta máquina no da cambio: ingrese el importe exacto.")
        total = pesos(flow.transaction.amount_cents) if flow.transaction else ""
        return tr._("Ingrese {total}. Acepta billetes de {bills} y monedas de {coins}. {change}").format(
            total=total, bills=bills, coins=coins, change=change)

    def _credited(self, credited: int, total: int) -> None:
        self.ids.progress.text = tr._("Ha ingresado {paid} de {total}.").format(paid=pesos(credited),
                                                                                total=pesos(total))

    def _finished(self, outcome) -> None:
        self.ctx.idle.resume(IDLE_PAUSE)
        self.can_cancel = False
        self.ctx.navigator.replace("done")

    def cancel(self) -> None:
        self.can_cancel = False
        self.ctx.payments.cancel_cash()

    def reset(self) -> None:
        self.ctx.idle.resume(IDLE_PAUSE)
        self.title = ""
        self.can_cancel = False
        self.ids.instructions.text = ""
        self.ids.progress.text = ""


load_kv(__file__)
