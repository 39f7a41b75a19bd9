"""The last-resort guard on the UI thread: an unexpected exception in a screen never kills the kiosk.

Kivy's main loop hands every exception that escapes a frame (a touch handler, a clock callback,
a screen filling itself) to its ExceptionManager; the guard is a handler there. For each one it:

- logs one line, `ui.unexpected_error code=UI-XXXXXX`, where the code is the same for the same
  fault on every kiosk and every day (exception type and the function it came from, hashed).
  The exception's message is never logged: it may carry what a citizen typed;
- raises a help call, so an attendant comes;
- shows a plain dialog in the citizen's language with the code and a way back home.

It leaves payments alone: a transaction that took money stays in the outbox (the truth), the
payment screen keeps following the device, and an unpaid one is cancelled by the session wipe
as usual. When errors come in a loop (more than MAX_ERRORS within WINDOW_S) or the guard itself
fails, it stops the app with EXIT_UI_FAILED and systemd starts a fresh kiosk.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.base import ExceptionHandler, ExceptionManager
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.i18n import N_
from kiosk.logs import event
from screens.common import KioskDialog, spoken_text

log = logging.getLogger("kiosk.ui")
EXIT_UI_FAILED = 70  # EX_SOFTWARE: not 64 (systemd's RestartPreventExitStatus), so systemd restarts us
MAX_ERRORS = 5
WINDOW_S = 10.0
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
_PROJECT_PACKAGES = ("kiosk", "screens", "devices", "offline_cache")
_SAFE_REASON = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")  # a reason code such as "procedure.not_payable"

# What the dialog says, marked for translation here (kv strings are not scanned for messages).
TITLE = N_("Algo salió mal")
MESSAGE = N_("Esta pantalla tuvo un problema. Ya avisamos al personal: una persona viene a ayudarle.")
MONEY_KEPT = N_("Su operación con folio {folio} quedó registrada: no se pierde.")
CODE = N_("Código del problema: {code}")
HOME = N_("Volver al inicio")

Builder.load_string("""
#:import tr screens.common.tr
#:import guard kiosk.ui_guard

<GuardDialog>:
    name: 'error'
    height: content.height
    DialogBox:
        id: content
        TitleLabel:
            id: error_title
            text: tr._(guard.TITLE)
            color: app.theme.rgba('on_dialog')
            halign: 'center'
        KioskLabel:
            id: error_message
            color: app.theme.rgba('on_dialog')
            text: tr._(guard.MESSAGE)
        KioskLabel:
            id: error_money
            color: app.theme.rgba('on_dialog')
            text: tr._(guard.MONEY_KEPT).format(folio=root.folio) if root.folio else ""
        KioskLabel:
            id: error_code
            color: app.theme.rgba('on_dialog')
            text: tr._(guard.CODE).format(code=root.code)
        KioskButton:
            id: error_home
            role: 'primary'
            text: tr._(guard.HOME)
            on_release: root.go_home()
""")


class GuardDialog(KioskDialog):
    """What the citizen sees instead of a crash: what happened, that help is coming, a way home."""

    code = StringProperty("")
    folio = StringProperty("")

    def go_home(self) -> None:
        self.dismiss()
        self.ctx.navigator.home()


def error_code(error: BaseException) -> tuple[str, str]:
    """(code, where): a stable code for this kind of fault and the place it was raised.

    The code hashes the exception type and the innermost function of ours in the traceback (file
    and function, not the line, so an unrelated edit above it keeps the code)."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if _is_ours(frame.filename)] or frames
    if ours:
        frame = ours[-1]
        place = f"{_relative(frame.filename)}:{frame.name}"
        where = f"{place}:{frame.lineno}"
    else:
        place = where = "unknown"
    digest = hashlib.sha1(f"{type(error).__qualname__}|{place}".encode()).hexdigest()
    return f"UI-{digest[:6].upper()}", where


def _is_ours(filename: str) -> bool:
    try:
        relative = Path(filename).resolve().relative_to(_PROJECT_ROOT)
    except ValueError:
        return False
    return relative.parts[0] in _PROJECT_PACKAGES


def _relative(filename: str) -> str:
    path = Path(filename).resolve()
    try:
        return str(path.relative_to(_PROJECT_ROOT))
    except ValueError:
        return path.name


class UiGuard(ExceptionHandler):
    """Installed by the app while it runs (Kivy's ExceptionManager is process-wide)."""

    def __init__(self, app: Any, now: Callable[[], float] = time.monotonic,
                 max_errors: int = MAX_ERRORS, window_s: float = WINDOW_S):
        super().__init__()
        self.app = app
        self.now = now
        self.max_errors, self.window_s = max_errors, window_s
        self.caught = 0
        self.last_code = ""
        self.stop: Callable[[int], None] = app.stop_now  # tests replace it: the real one ends the window
        self.gave_up = False
        self._recent: deque[float] = deque()
        self.dialog = GuardDialog(ctx=app.ctx)  # built now: at the time of a fault, build nothing new

    def install(self) -> None:
        ExceptionManager.add_handler(self)

    def uninstall(self) -> None:
        ExceptionManager.remove_handler(self)

    def handle_exception(self, error: BaseException) -> int:
        if not isinstance(error, Exception) or self.gave_up:
            # KeyboardInterrupt and SystemExit are not faults; after giving up, the app is stopping
            # and anything more ends the process at once (still non-zero: systemd restarts it).
            return ExceptionManager.RAISE
        try:
            self.caught += 1
            code = self._log(error)
            if self._looping():
                return self._give_up("errors_in_a_loop")
            self._recover(code)
        except Exception as failure:  # the guard itself failed: a fresh start is safer than limping on
            return self._give_up("guard_failed", failure=type(failure).__name__)
        return ExceptionManager.PASS

    def _log(self, error: BaseException) -> str:
        code, where = error_code(error)
        reason = getattr(error, "code", None)
        fields = {"code": code, "error": type(error).__name__, "where": where,
                  "screen": self.app.ctx.navigator.current.screen, "count": self.caught}
        if isinstance(reason, str) and _SAFE_REASON.match(reason):
            fields["reason"] = reason
        event(log, "ui.unexpected_error", level=logging.ERROR, **fields)
        self.last_code = code
        return code

    def _looping(self) -> bool:
        now = self.now()
        self._recent.append(now)
        while self._recent and now - self._recent[0] > self.window_s:
            self._recent.popleft()
        return len(self._recent) > self.max_errors

    def _recover(self, code: str) -> None:
        ctx = self.app.ctx
        self.app.keep_intervals_running()
        ctx.help.request(ctx.navigator.current.screen)
        self.app.close_dialogs()
        payments = ctx.payments
        self.dialog.code = code
        self.dialog.folio = payments.folio if payments is not None else ""
        if self.dialog.parent is None:
            self.dialog.open(animation=False)
        ctx.speaker.say(spoken_text(self.dialog))

    def _give_up(self, why: str, **facts: str) -> int:
        self.gave_up = True
        event(log, "ui.guard_gave_up", level=logging.CRITICAL, why=why, code=self.last_code, caught=self.caught,
              status=EXIT_UI_FAILED, **facts)
        try:
            self.stop(EXIT_UI_FAILED)
        except Exception:
            return ExceptionManager.RAISE  # not even a clean stop: Kivy ends the loop, run_kiosk says why
        return ExceptionManager.PASS
