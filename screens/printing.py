"""Printing the information sheet: what is happening, then the outcome and a way forward."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from screens.common import KioskDialog, load_kv, tr


class PrintDialog(KioskDialog):
    message = StringProperty("")
    done = BooleanProperty(False)

    def printing(self) -> None:
        self.done = False
        self.message = tr._("Imprimiendo la información del trámite…")

    def finished(self, ok: bool, problem: str = "") -> None:
        self.done = True
        if ok:
            self.message = tr._("Listo. Tome su hoja de la impresora.")
        else:
            self.message = tr._("No se pudo imprimir: {problem} Toque «Ayuda» y una persona le atenderá.").format(
                problem=problem)


load_kv(__file__)
