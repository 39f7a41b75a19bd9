"""The last-resort guard on the UI thread: an unexpected exception in a screen never kills the kiosk.

Kivy's main loop hands every exception that escapes a frame (a touch handler, a clock callback,
a screen filling itself) to its ExceptionManager; the app installs the guard there. For each one:

- one log line, `ui.unexpected_error code=UI-XXXXXX`, where the code is the same for the same
  fault on every kiosk and every day (exception type and the function it came from, hashed).
  The exception's message is never logged: it may carry what a citizen typed;
- a help call, so an attendant comes;
- the app shows a plain dialog in the citizen's language with the code and a way home
  (screens/guard.py), and re-arms its own periodic work (Kivy drops a failing interval).

It leaves payments alone: a transaction that took money stays in the outbox (the truth), the
payment screen keeps following the device, and an unpaid one is cancelled by the session wipe
as usual. When errors come in a loop (more than MAX_ERRORS within WINDOW_S) or the recovery
itself fails, it stops the app with EXIT_UI_FAILED and systemd starts a fresh kiosk.

No Kivy here: the app (the Kivy edge) wires the guard to the ExceptionManager and the dialog.
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

from kiosk.core.errors import code_of
from kiosk.core.logs import event

log = logging.getLogger("kiosk.ui")
EXIT_UI_FAILED = 70  # EX_SOFTWARE: not 64 (systemd's RestartPreventExitStatus), so systemd restarts us
MAX_ERRORS = 5
WINDOW_S = 10.0
# What a handler answers Kivy's ExceptionManager (kivy.base.ExceptionManagerBase.RAISE and .PASS).
RAISE, PASS = 0, 1
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_PROJECT_PACKAGES = ("kiosk", "screens", "devices", "offline_cache")
_SAFE_REASON = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")  # a reason code such as "procedure.not_payable"


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


class UiGuard:
    """A handler for Kivy's ExceptionManager. `show(code, folio)` puts the dialog up,
    `keep_running()` re-arms the app's periodic work, `stop(status)` ends the app."""

    def __init__(self, ctx: Any, show: Callable[[str, str], None], keep_running: Callable[[], None],
                 stop: Callable[[int], None], now: Callable[[], float] = time.monotonic,
                 max_errors: int = MAX_ERRORS, window_s: float = WINDOW_S):
        self.ctx = ctx
        self.show, self.keep_running, self.stop = show, keep_running, stop
        self.now = now
        self.max_errors, self.window_s = max_errors, window_s
        self.caught = 0
        self.last_code = ""
        self.gave_up = False
        self._recent: deque[float] = deque()

    def handle_exception(self, error: BaseException) -> int:
        if not isinstance(error, Exception) or self.gave_up:
            # KeyboardInterrupt and SystemExit are not faults; after giving up, the app is stopping
            # and anything more ends the process at once (still non-zero: systemd restarts it).
            return RAISE
        try:
            self.caught += 1
            code = self._log(error)
            if self._looping():
                return self._give_up("errors_in_a_loop")
            self._recover(code)
        except Exception as failure:  # the guard itself failed: a fresh start is safer than limping on
            return self._give_up("guard_failed", failure=type(failure).__name__)
        return PASS

    def _log(self, error: BaseException) -> str:
        code, where = error_code(error)
        reason = code_of(error)
        fields = {"code": code, "error": type(error).__name__, "where": where,
                  "screen": self.ctx.navigator.current.screen, "count": self.caught}
        if _SAFE_REASON.match(reason):
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
        self.keep_running()
        self.ctx.help.request(self.ctx.navigator.current.screen)
        payments = self.ctx.payments
        self.show(code, payments.folio if payments is not None else "")

    def _give_up(self, why: str, **facts: str) -> int:
        self.gave_up = True
        event(log, "ui.guard_gave_up", level=logging.CRITICAL, why=why, code=self.last_code, caught=self.caught,
              status=EXIT_UI_FAILED, **facts)
        try:
            self.stop(EXIT_UI_FAILED)
        except Exception:
            return RAISE  # not even a clean stop: Kivy ends the loop, run_kiosk says why
        return PASS
