"""Paying, step 4: the outcome in plain words, the folio, and the printed receipt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kivy.properties import BooleanProperty

from devices.contract import reason
from screens.bill import pesos
from screens.common import KioskScreen, load_kv, tr


class DoneScreen(KioskScreen):
    paid = BooleanProperty(False)

    def show(self, params: Mapping[str, Any]) -> None:
        flow = self.ctx.payments
        outcome = flow.outcome
        self.paid = bool(outcome and outcome.ok)
        language = self.ctx.translator.language
        if self.paid:
            self.title = tr._("Solicitud registrada") if flow.mode == "request" else tr._("Pago registrado")
            self.ids.summary.text = tr._("Folio: {folio}\nImporte: {amount}").format(
                folio=flow.folio, amount=pesos(flow.transaction.amount_cents))
            if flow.mode == "request":
                # The receipt's QR should be the certificate's download link, which exists once
                # the API has issued it; offline it stays the signed provisional receipt.
                self.ids.receipt.text = tr._("Emitiendo su documento…")
                flow.when_issued(self._print)
            else:
                self.ids.receipt.text = tr._("Imprimiendo su recibo…")
                flow.print_receipt(self._printed)
        elif outcome is not None and outcome.needs_person:
            self._person_will_help(outcome, flow)
        else:
            self.title = tr._("El pago no se realizó")
            if outcome is not None and outcome.reason == "cash.cancelled":
                message = tr._("Usted canceló el pago. No se le cobró nada.")
            elif outcome is not None and language == "es" and outcome.message_es:
                message = outcome.message_es
            else:
                message = tr._("No se completó el pago. Si se le cobró algo, toque «Ayuda»: una persona lo resolverá.")
            self.ids.summary.text = message
            self.ids.receipt.text = ""

    def _person_will_help(self, outcome, flow) -> None:
        """Money was (or may have been) taken and a person must finish: the truth, the folio and
        a help call, never "not charged" and never a way to pay again."""
        self.title = tr._("Una persona le atenderá")
        if outcome.reason.startswith("card."):
            message = tr._("No pudimos confirmar si se cobró su tarjeta. Una persona lo revisará con usted.")
        else:
            paid = int(outcome.extra.get("paid_cents", 0))
            message = tr._("Su dinero ({paid}) quedó en el cajero. Una persona terminará su trámite con usted.").format(
                paid=pesos(paid)) if paid else tr._("Su pago quedó en el cajero. Una persona terminará su trámite "
                                                    "con usted.")
        self.ids.summary.text = message + "\n" + tr._("Conserve este folio: {folio}").format(folio=flow.folio)
        self.ids.receipt.text = ""
        self.ctx.help.request(self.ctx.navigator.current.screen)

    def _print(self) -> None:
        self.ids.receipt.text = tr._("Imprimiendo su recibo…")
        self.ctx.payments.print_receipt(self._printed)

    def _printed(self, ok: bool, code: str) -> None:
        if ok:
            self.ids.receipt.text = tr._("Tome su recibo. Gracias.")
            return
        found = reason(code)
        problem = found.es if self.ctx.translator.language == "es" else found.en
        self.ids.receipt.text = tr._("Su pago quedó registrado con el folio {folio}, pero el recibo no se pudo "
                                     "imprimir: {problem} Toque «Ayuda» y una persona le dará su recibo.").format(
            folio=self.ctx.payments.folio, problem=problem)

    def reset(self) -> None:
        self.title = ""
        self.paid = False
        self.ids.summary.text = ""
        self.ids.receipt.text = ""


load_kv(__file__)
