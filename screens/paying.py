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
        self.method = params.get("method", "card")
        self.title = {"card": tr._("Pago con tarjeta"), "cash": tr._("Pago en efectivo")}.get(
            self.method, tr._("Enviando su solicitud"))
        self.ids.progress.text = ""
        self.ids.instructions.text = tr._("Registrando su solicitud…") if self.method == "free" else tr._(
            "Registrando su pago…")
        self.can_cancel = False
        self.ctx.idle.pause(IDLE_PAUSE)  # never wipe the screen while money may be moving
        self.ctx.payments.pay(self.method, self._started, self._credited, self._finished, self._refused)

    def _started(self, _transaction) -> None:
        if self.method == "cash":
            self.ids.instructions.text = self._cash_instructions(self.ctx.payments)
            self.can_cancel = True
        elif self.method == "card":
            self.ids.instructions.text = tr._("Siga las instrucciones de la terminal de pago. No retire su tarjeta "
                                              "hasta que la terminal lo indique.")

    def _refused(self, problem) -> None:
        self.ctx.idle.resume(IDLE_PAUSE)
        self.ids.instructions.text = problem.text(self.ctx.translator.language)

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
