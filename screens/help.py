"""The citizen's call for a person: what the call really came to, and where staff are.

The text follows the request's delivery (kiosk.shell.helpdesk): "calling" while the first attempt is
under way, "a person is coming" only once the API has it, and, when it could not be delivered,
that plainly, with where to find staff instead (retries go on behind it). When an attendant
logs in at this kiosk the dialog steps aside so their panel is on top; if they leave with the
call still open, it comes back.
"""

from __future__ import annotations

from kivy.app import App
from kivy.properties import StringProperty

from kiosk.core.threads import on_ui_thread
from kiosk.shell.helpdesk import DELIVERED, NO_REQUEST, NOT_DELIVERED
from screens.common import KioskDialog, load_kv, spoken_text, tr


class HelpDialog(KioskDialog):
    location = StringProperty("")
    state = StringProperty(NO_REQUEST)  # kiosk.shell.helpdesk: sending, delivered or not_delivered
    heading = StringProperty("")
    where = StringProperty("")
    delivery = StringProperty("")

    def on_ctx(self, _instance, ctx) -> None:
        if ctx is not None:
            ctx.help.on_change(self._help_changed)
            ctx.staff.on_change(self._staff_changed)
            ctx.translator.add_listener(lambda _language: self._show_texts())

    def on_open(self) -> None:
        self.location = self.ctx.help.request(self.ctx.navigator.current.screen).location
        self.state = self.ctx.help.delivery  # the app reads the dialog aloud as it opens
        self._show_texts()

    def cancel(self) -> None:
        self.ctx.help.close("cancelled")
        self.dismiss()

    @on_ui_thread
    def _help_changed(self) -> None:
        help_desk = self.ctx.help
        if help_desk.open_request is None:
            self.state = NO_REQUEST
            if self.parent is not None:
                self.dismiss()  # staff answered it, or the session ended
            return
        changed = help_desk.delivery != self.state
        self.state = help_desk.delivery
        self._show_texts()
        if changed and self.parent is not None:
            self.ctx.speaker.say(spoken_text(self))  # a listening citizen hears the news too

    def _show_texts(self) -> None:
        self.heading, self.where, self.delivery = self._texts()

    def _texts(self) -> tuple[str, str, str]:
        location = self.location
        if self.state == NOT_DELIVERED:
            return (tr._("No pudimos avisar al personal"),
                    tr._("Pida ayuda en la ventanilla de atención o a alguien del personal municipal "
                         "cerca de este kiosco ({location}).").format(location=location),
                    tr._("Seguimos intentando avisar. Si el aviso llega, esta pantalla lo dirá."))
        wait_here = tr._("Por favor espere junto a este kiosco: {location}.").format(location=location)
        if self.state == DELIVERED:
            return tr._("Una persona viene a ayudarle"), wait_here, tr._("El personal ya recibió su aviso.")
        return tr._("Estamos avisando al personal…"), wait_here, tr._(
            "Si tarda, acérquese a la ventanilla de atención.")

    @on_ui_thread
    def _staff_changed(self) -> None:
        """Staff logged in here: their panel comes first. Staff gone and the call still open
        (and the citizen still here): the citizen sees it again."""
        ctx = self.ctx
        if ctx.staff.member is not None:
            if self.parent is not None:
                self.dismiss()
        elif ctx.help.open_request is not None and ctx.sessions.session.active and self.parent is None:
            App.get_running_app().open_dialog(self.name)


load_kv(__file__)
