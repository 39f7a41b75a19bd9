"""Paying, step 3: the card terminal or the cash acceptor, with what is happening at every moment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from kiosk.core.threads import on_ui_thread
from screens.bill import pesos
from screens.common import KioskScreen, load_kv, tr


class PayingScreen(KioskScreen):
    method = StringProperty("")
    can_cancel = BooleanProperty(False)

    def show(self, params: Mapping[str, Any]) -> None:
        """The payment flow holds the kiosk from here to the payment's ending (kiosk.flows.payment)."""
        self.method = params.get("method", "card")
        self.title = {"card": tr._("Pago con tarjeta"), "cash": tr._("Pago en efectivo")}.get(
            self.method, tr._("Enviando su solicitud"))
        self.ids.progress.text = ""
        self.ids.instructions.text = tr._("Registrando su solicitud…") if self.method == "free" else tr._(
            "Registrando su pago…")
        self.can_cancel = False
        self.ctx.payments.on_notice = self._notice
        self.ctx.payments.pay(self.method, self._started, self._credited, self._finished, self._refused)

    @on_ui_thread
    def _started(self, _transaction) -> None:
        if self.method == "cash":
            self.ids.instructions.text = self._cash_instructions(self.ctx.payments)
            self.can_cancel = True
        elif self.method == "card":
            self.ids.instructions.text = tr._("Siga las instrucciones de la terminal de pago. No retire su tarjeta "
                                              "hasta que la terminal lo indique.")
            self.can_cancel = True  # the one way out while the terminal waits

    @on_ui_thread
    def _refused(self, problem) -> None:
        self.ids.instructions.text = problem.text(self.ctx.translator.gettext)

    def _cash_instructions(self, flow) -> str:
        acceptance = flow.cash_acceptance()
        bills = ", ".join(pesos(c) for c in acceptance.bills_cents) or "-"
        coins = ", ".join(pesos(c) for c in acceptance.coins_cents) or "-"
        total = pesos(flow.transaction.amount_cents) if flow.transaction else ""
        return tr._("Ingrese {total}. Acepta billetes de {bills} y monedas de {coins}. {change}").format(
            total=total, bills=bills, coins=coins, change=change_limit_text(flow.change_limit()))

    @on_ui_thread
    def _credited(self, progress) -> None:
        """After every credit: what is in, out of what, and what is missing; spoken too."""
        text = tr._("Ha ingresado {inserted} de {total}. Faltan {remaining}.").format(
            inserted=pesos(progress.inserted_cents), total=pesos(progress.total_cents),
            remaining=pesos(progress.remaining_cents))
        self.ids.progress.text = text
        self.ctx.speaker.say(text)

    def _notice(self, code: str, cents: int) -> None:
        """A bill handed back, or the acceptor failing mid-payment: said at once, with what happens next."""
        if code == "cash.returned":
            text = tr._("Le devolvimos su billete de {amount}: necesitaría más cambio del que este cajero puede "
                        "dar. Use un billete más pequeño o monedas.").format(amount=pesos(cents))
        else:
            self.can_cancel = False
            text = tr._("El aceptador de dinero falló y ya no recibe dinero. Ha ingresado {amount}: se lo "
                        "devolvemos o le damos un vale. Espere un momento.").format(amount=pesos(cents))
        self.ids.instructions.text = text
        self.ctx.speaker.say(text)

    def help_called(self) -> None:
        """"Ayuda" during a payment: a person is called; the payment stays as it is."""
        text = tr._("Una persona viene a ayudarle. Su pago sigue aquí: puede seguir o cancelar.")
        self.ids.instructions.text = text
        self.ctx.speaker.say(text)

    def on_touch_down(self, touch) -> bool:
        if self.method == "cash" and self.collide_point(*touch.pos):
            self.ctx.payments.still_here()  # the citizen is there: the payment's idle time starts again
        return super().on_touch_down(touch)

    @on_ui_thread
    def _finished(self, outcome) -> None:
        self.can_cancel = False
        self.ctx.navigator.replace("done")

    def cancel(self) -> None:
        self.can_cancel = False
        if self.method == "card":
            self.ids.instructions.text = tr._("Cancelando el pago con la terminal… espere su respuesta.")
            self.ctx.payments.cancel_card()
        else:
            self.ids.instructions.text = tr._("Cancelando… espere: le devolvemos su dinero.")
            self.ctx.payments.cancel_cash()

    def reset(self) -> None:
        self.title = ""
        self.can_cancel = False
        self.ids.instructions.text = ""
        self.ids.progress.text = ""


def change_limit_text(limit_cents: int) -> str:
    """The most change the kiosk gives now, said before any money goes in."""
    if limit_cents <= 0:
        return tr._("Este cajero no da cambio ahora: ingrese el importe exacto.")
    return tr._("Este cajero da cambio hasta {amount}; un billete que necesite más cambio se le devuelve.").format(
        amount=pesos(limit_cents))


load_kv(__file__)
