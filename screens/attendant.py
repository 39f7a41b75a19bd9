"""The attendant's panel: help calls, transactions waiting for a person, assisted service,
reprints and the cash box. What each button does lives in kiosk.flows.staff_desk; this view shows it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kivy.app import App
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from screens.bill import pesos
from screens.common import KioskButton, KioskScreen, load_kv, tr

ROWS_PER_PAGE = 3


class AttendantScreen(KioskScreen):
    member_name = StringProperty("")
    result = StringProperty("")
    help_text = StringProperty("")
    waiting = NumericProperty(0)
    help_open = BooleanProperty(False)
    listed = BooleanProperty(False)  # the attention list has arrived

    def show(self, params: Mapping[str, Any]) -> None:
        desk = self.ctx.staff
        member = desk.member
        self.member_name = member.name if member is not None else ""
        self.title = tr._("Modo atención")
        self._records: list[Any] = []
        self.listed = False
        self.refresh()

    def refresh(self) -> None:
        requests = self.ctx.staff.help_requests()
        self.help_open = bool(requests)
        self.help_text = "\n".join(
            tr._("Aviso en la pantalla «{screen}», hace {seconds} s.").format(
                screen=request.screen, seconds=int(time.time() - request.created_at)) for request in requests
        ) or tr._("No hay avisos de ayuda abiertos.")
        self.ctx.staff.attention(self._attention_listed)

    def _attention_listed(self, outcome) -> None:
        self._records = list(outcome.value or []) if outcome.ok else []
        if not outcome.ok:
            self.result = outcome.message
        self.waiting = len(self._records)
        self.listed = True
        pager = self.ids.attention_pager
        pager.count = max(1, -(-len(self._records) // ROWS_PER_PAGE))
        pager.page = min(pager.page, pager.count - 1)
        self.show_page(pager.page)

    def show_page(self, page: int) -> None:
        rows = self.ids.attention_rows
        rows.clear_widgets()
        for record in self._records[page * ROWS_PER_PAGE:(page + 1) * ROWS_PER_PAGE]:
            button = KioskButton(role="secondary", text=tr._("Folio {folio} · {amount} · {reason}").format(
                folio=record.folio, amount=pesos(max(record.paid_cents, record.amount_cents)),
                reason=self.ctx.staff.reason_text(record)))
            button.bind(on_release=lambda _button, chosen=record: self.open_resolve(chosen))
            rows.add_widget(button)

    def open_resolve(self, record: Any) -> None:
        dialog = App.get_running_app().open_dialog("resolve")
        dialog.prepare(record, self._resolved)

    def _resolved(self, outcome) -> None:
        self.result = outcome.message
        self.refresh()

    def answer_help(self) -> None:
        self.ctx.staff.answer_help()
        self.refresh()

    def reprint(self) -> None:
        self.result = tr._("Imprimiendo copia del último comprobante…")
        self.ctx.staff.reprint_last(self._reprinted)

    def _reprinted(self, outcome) -> None:
        self.result = tr._("Copia impresa.") if outcome.ok else outcome.message

    def open_cash(self) -> None:
        App.get_running_app().open_dialog("cash")

    def reset(self) -> None:
        self._records = []
        self.result = self.help_text = self.member_name = ""
        self.ids.attention_rows.clear_widgets()


load_kv(__file__)
