"""Requesting a certificate, step 1: who it is for. The chip of the ID card, or typed data.

What the citizen types or the card gives lives only in this session (wiped on idle); the
fields are never read aloud. Each field keeps its label above it while typing, and while
"Continuar" cannot be touched a line above it says why (kiosk.flows.forms has the rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from kiosk.catalog.navtree import text_in
from kiosk.core.threads import on_ui_thread
from kiosk.flows.forms import clean_name, identity_refusal
from screens.common import KioskScreen, load_kv, tr
from screens.keyboard import apply_key


class IdentifyScreen(KioskScreen):
    name_text = StringProperty("")
    curp_text = StringProperty("")
    field = StringProperty("name")  # which field the keyboard types into
    reading = BooleanProperty(False)
    can_read_card = BooleanProperty(False)
    refusal = StringProperty("")  # why "Continuar" is disabled; empty when it is not
    typing = BooleanProperty(False)

    def show(self, params: Mapping[str, Any]) -> None:
        flow = self.ctx.payments
        self.title = text_in((flow.procedure or {}).get("name"), self.ctx.translator.language)
        self.can_read_card = self.ctx.device("card_reader") is not None
        self.ids.status.text = ""
        self._check()  # also in the language just chosen

    def reset(self) -> None:
        self.name_text = ""
        self.curp_text = ""
        self.field = "name"
        self.reading = False
        self.typing = False
        self.ids.status.text = ""
        self._check()

    def type_key(self, key: str) -> None:
        if self.field == "name":
            self.name_text = apply_key(self.name_text, key, limit=80).lstrip().replace("  ", " ")
        else:
            self.curp_text = apply_key(self.curp_text, key, limit=18).replace(" ", "")
        self._check()

    def _check(self) -> None:
        refusal = identity_refusal(self.name_text, self.curp_text)
        self.refusal = refusal.text(tr._) if refusal is not None else ""

    def typed_done(self) -> None:
        if identity_refusal(self.name_text, self.curp_text) is not None:
            return
        self.ctx.payments.identify("typed", clean_name(self.name_text), self.curp_text.strip().upper())
        self.ctx.navigator.go("bill")

    def read_card(self) -> None:
        reader = self.ctx.device("card_reader")
        if reader is None or self.reading:
            return
        self.reading = True
        self.ids.status.text = tr._("Inserte su credencial en el lector y déjela ahí…")
        reader.request(reader.read_identity, self._card_read)

    @on_ui_thread
    def _card_read(self, identity, error) -> None:
        self.reading = False
        if identity is None:
            self.ids.status.text = tr._("No se pudo leer la credencial. Revise que esté bien insertada, "
                                        "o escriba sus datos.")
            return
        self.ctx.payments.identify("id_card", identity.full_name, identity.id_number)
        self.ctx.navigator.go("bill")


load_kv(__file__)
