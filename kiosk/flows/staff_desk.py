"""Staff at the kiosk: logging in, the attendant's and the technician's tasks, assisted mode.

The staff screens are thin; this object keeps the rules: who may do what (permissions), that
every staff action lands in the audit log, that disk, device and network work runs on a worker
thread with its result back through `call_soon`, and that a staff session never outlives its
owner (idle lock, and any citizen-session wipe logs staff out). Staff screens are places on the
navigator like any other, so the citizen's path stays underneath and assisted mode returns to it.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.core.errors import code_of, message_of
from kiosk.core.i18n import N_
from kiosk.core.logs import event
from kiosk.core.threads import CallSoon, Runner, SerialWorker, run_off_ui

log = logging.getLogger("kiosk.staff")
STAFF_SCREENS = {"attendant": "attendant", "technician": "technician"}  # role -> its panel's screen
IDLE_PAUSE = "staff"
TOOL_PERMISSIONS = {"report": "diagnostics", "test_print": "device_tests", "read_card": "device_tests",
                    "poll_cash": "device_tests", "self_test": "device_tests", "force_sync": "force_sync"}


@dataclass(frozen=True)
class Outcome:
    """What a staff task came to: shown on the panel as one line."""

    ok: bool
    message: str
    value: Any = None


class StaffDesk:
    def __init__(self, ctx: Any, open_sessions: Callable[[], Any], call_soon: CallSoon,
                 run_in_background: Runner | None = None):
        self.ctx = ctx
        self._open_sessions = open_sessions  # opens the staff and audit databases: worker thread only
        self._sessions: Any = None
        self._open_lock = threading.Lock()
        self.call_soon = call_soon
        # One worker, in order: the audit entries follow the order of the actions (a logout's
        # entry before the next login's), and none of the desk's disk work runs on the UI thread.
        self.run = run_in_background or SerialWorker("staff-desk")
        self.assisted_by: str = ""
        self._base_idle = (ctx.idle.timeout_s, ctx.idle.warning_s)
        self._listeners: list[Callable[[], None]] = []
        self.restart: Callable[[int], None] = lambda _status: None  # the app sets how it stops itself
        self.tools: dict[str, Callable[[], Any]] = {}  # technician tools, registered by the app
        ctx.sessions.on_wipe(self._citizen_session_wiped)

    # -- the staff session -------------------------------------------------------------------
    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    @property
    def member(self) -> Any | None:
        return self._sessions.current if self._sessions is not None else None

    def sessions(self) -> Any:
        """The staff sessions, opened on first use (call from a worker thread)."""
        with self._open_lock:
            if self._sessions is None:
                sessions = self._open_sessions()
                sessions.record_later = self.run  # a logout or idle lock asked on the UI thread
                self._sessions = sessions
            return self._sessions

    def audit_head(self) -> dict[str, Any]:
        """The audit log's last entry, which the heartbeat sends so a cut log shows at the city."""
        seq, mac = self.sessions().audit.head()
        return {"seq": seq, "mac": mac}

    def lock_status(self, on_done: Callable[[Any], None]) -> None:
        """Whether staff access is locked now (the PIN pad says so before any digit is typed)."""
        self._background(lambda: self.sessions().access.status(), on_done, lambda _error: None)

    def login(self, staff_id: str, pin: str, on_done: Callable[[Outcome], None]) -> None:
        """Check the PIN off the UI thread (it is deliberately slow); on success open the panel."""

        def work() -> Outcome:
            from kiosk.staff import StaffAccessError

            try:
                member = self.sessions().login(staff_id, pin)
            except StaffAccessError as error:
                return Outcome(False, login_refusal(error, self.ctx.translator.gettext))
            return Outcome(True, member.name, member)

        def done(outcome: Outcome) -> None:
            if outcome.ok:
                self._entered(outcome.value)
            on_done(outcome)

        def failed(error: Exception) -> None:
            on_done(Outcome(False, unavailable(error, self.ctx.translator.gettext)))

        self._background(work, done, failed)

    def _entered(self, member: Any) -> None:
        event(log, "staff.entered", staff=member.staff_id, role=member.role)
        self.ctx.idle.pause(IDLE_PAUSE)
        self.ctx.navigator.go(STAFF_SCREENS[member.role])
        self._announce()

    def touched(self) -> None:
        if self.member is not None:
            self._sessions.touched()

    def check_idle(self) -> None:
        """Called a few times a second: a staff session left alone locks itself, and what was on
        the screen (the citizen's too) is wiped, so the next person finds the attract screen."""
        if self.member is not None and not self.assisted_by and self._sessions.check_idle():
            self.ctx.sessions.end("staff_idle")

    def leave(self) -> None:
        """"Salir" on a panel: staff logs out; a citizen being helped gets their screen back."""
        self._logout("left")
        self.ctx.idle.resume(IDLE_PAUSE)
        if self.ctx.sessions.session.active:
            self.ctx.navigator.back()
        else:
            self.ctx.navigator.reset()

    def _logout(self, reason: str) -> None:
        if self.member is not None:
            self._sessions.logout(reason)
        self.assisted_by = ""
        self.ctx.idle.timeout_s, self.ctx.idle.warning_s = self._base_idle  # assisted timeouts end too
        self._announce()

    def _citizen_session_wiped(self) -> None:
        self._logout("session_wiped")

    # -- assisted mode (attendant) -------------------------------------------------------------
    def start_assisted(self) -> None:
        """Serve the citizen at the kiosk: larger text, longer timeouts, always a step back."""
        member = self._require("assisted")
        factor = self.ctx.config.staff.assisted_idle_factor
        base_timeout, base_warning = self._base_idle
        self.ctx.idle.resume(IDLE_PAUSE)
        returning = self.ctx.sessions.session.active
        if not returning:
            self.ctx.sessions.begin()
        self.assisted_by = member.staff_id
        session = self.ctx.sessions.session
        session.data["assisted_by"] = member.staff_id
        session.accessibility.text_step = max(session.accessibility.text_step, 1)
        self.ctx.idle.timeout_s, self.ctx.idle.warning_s = base_timeout * factor, base_warning * factor
        self.ctx.idle.touch()
        self._record("assisted.started")
        self._announce()  # the assisted strip and the larger text first, then the citizen's screen
        if returning:
            self.ctx.navigator.back()  # to where the citizen was

    def back_to_panel(self) -> None:
        self._require("assisted")
        self.ctx.idle.pause(IDLE_PAUSE)
        self.ctx.navigator.go(STAFF_SCREENS["attendant"])

    def finish_for_citizen(self) -> None:
        """The attendant ends the visit on the citizen's behalf: anything unpaid is cancelled, a
        payment already made stays recorded, and the kiosk is ready for the next person."""
        self._require("assisted")
        payments = self.ctx.payments
        self._record("assisted.finished", screen=self.ctx.navigator.current.screen,
                     folio=payments.folio if payments is not None else "")
        self.ctx.sessions.end("assisted_finished")

    # -- attendant tasks ---------------------------------------------------------------------
    def help_requests(self) -> list[Any]:
        request = self.ctx.help.open_request
        return [request] if request is not None else []

    def answer_help(self) -> None:
        """The attendant is with the citizen who called: the call is closed here and at the API."""
        self._require("help_requests")
        if self.ctx.help.open_request is not None:
            self.ctx.help.close("answered_here")
            self._record("help.answered")

    def attention(self, on_done: Callable[[Outcome], None]) -> None:
        service = self._service()
        self._task("resolve", "attention.listed", lambda: service.attention_items(), on_done, quiet=True)

    def resolve(self, item: Any, outcome: str, note: str, on_done: Callable[[Outcome], None]) -> None:
        """Confirm, refund with a voucher, or cancel as nothing taken (kiosk.transactions.attendant);
        a confirmed payment's receipt is printed for the citizen the attendant came to help."""
        service, member, _ = self._service(), self._require("resolve"), self.ctx.translator.gettext

        def work() -> Outcome:
            from kiosk.flows.procedure_page import format_cents  # the page writer and catalog model: not at start

            if outcome == "acknowledge":
                done = service.acknowledge_voucher(item.voucher, member.staff_id, note)
                return Outcome(done, _("Vale atendido.") if done else _("Otra persona ya atendió este vale."))
            resolution = service.resolve(item, outcome, member.staff_id, note)
            if outcome == "confirm":
                service.print_receipt(resolution.transaction, lambda _result, _error: None)
                return Outcome(True, _("Confirmado: el pago se enviará a la oficina y se imprime el recibo."))
            voucher = resolution.voucher
            if voucher is not None:
                return Outcome(True, _("Vale de devolución {number} por {amount}: tome las dos copias.").format(
                    number=voucher.number, amount=format_cents(voucher.amount_cents)))
            return Outcome(True, _("Cancelada: no se cobró nada."))

        self._task("resolve", f"transaction.{outcome}", work, on_done, folio=item.folio,
                   amount_cents=item.amount_cents)

    def reprint_last(self, on_done: Callable[[Outcome], None]) -> None:
        service = self._service()

        def work() -> Outcome:
            printed = service.reprint_last()
            return Outcome(printed.ok, self.ctx.translator.gettext(printed.message) if printed.message else "", printed)

        self._task("reprint", "receipt.reprinted", work, on_done)

    def cash_totals(self, on_done: Callable[[Outcome], None]) -> None:
        service = self._service()
        self._task("cash", "cash.totals_viewed", lambda: service.cash_totals(), on_done, quiet=True)

    def collect_cash(self, on_done: Callable[[Outcome], None]) -> None:
        service, member = self._service(), self._require("cash")
        self._task("cash", "cash.collected", lambda: service.collect_cash(member.staff_id), on_done)


    # -- technician tasks ----------------------------------------------------------------------
    def technician(self, tool: str, on_done: Callable[[Outcome], None]) -> None:
        """A technician's button: the diagnostics report, a device test or a forced sync. The
        app registers the tools (in `tools`) once devices and services exist."""
        work = self.tools.get(tool)
        if work is None:
            self._require(TOOL_PERMISSIONS[tool])
            not_yet = N_("Todavía no está disponible; intente en unos segundos.")
            on_done(Outcome(False, self.ctx.translator.gettext(not_yet)))
            return
        self._task(TOOL_PERMISSIONS[tool], f"technician.{tool}", work, on_done, quiet=tool == "report")

    def restart_app(self) -> None:
        """Recorded first, then the app stops with EXIT_RESTART and systemd starts it again."""
        self._require("restart")

        def record() -> None:
            from kiosk.fleet.actions import EXIT_RESTART  # any status but 64: systemd starts us again

            self._sessions.record("app.restart")
            self.call_soon(lambda: self.restart(EXIT_RESTART))

        self.run(record)

    # -- plumbing ----------------------------------------------------------------------------
    def _require(self, permission: str) -> Any:
        """The member if their role allows `permission` (a refusal is audited by the sessions)."""
        if self.member is None:
            raise PermissionError(f"staff permission '{permission}' needs a staff session")
        from kiosk.staff import StaffAccessError

        try:
            member = self._sessions.require(permission)
        except StaffAccessError as error:
            raise PermissionError(str(error)) from None
        self._sessions.touched()
        return member

    def _record(self, action: str, **details: Any) -> None:
        """Audit an action of the current member (called on the UI thread: the write goes to a worker)."""
        member = self.member
        if member is not None:
            self.run(lambda: self._append_quietly(member, action, details))

    def _append_quietly(self, member: Any, action: str, details: dict[str, Any]) -> None:
        """The action already happened: an entry the audit log cannot take is logged, never raised
        (raised, it killed the worker thread with a bare traceback, or the caller's failure path)."""
        try:
            self._sessions.audit.append(member.actor, action, **details)
        except Exception as error:
            event(log, "staff.audit_failed", level=logging.ERROR, action=action, problem=type(error).__name__)

    def _service(self) -> Any:
        payments = self.ctx.payments
        return payments.service if payments is not None else _NoService()

    def _task(self, permission: str, action: str, work: Callable[[], Any], on_done: Callable[[Outcome], None],
              quiet: bool = False, **details: Any) -> None:
        """Run `work` off the UI thread for a member who may. The action is audited before it is
        done (no record, no action) and its failure after; the result comes back as an Outcome."""
        self._require(permission)

        def audited() -> Outcome:
            if not quiet:
                self._sessions.record(action, **details)
            value = work()
            return value if isinstance(value, Outcome) else Outcome(True, "", value)

        def failed(error: Exception) -> None:
            self._record(action + ".failed", problem=code_of(error), **details)
            on_done(Outcome(False, self.problem_text(error)))

        self._background(audited, on_done, failed)

    def problem_text(self, error: Exception) -> str:
        """A refusal as the service words it (a msgid), in the current language; else the error's
        own text (a msgid when the kiosk raised it, e.g. `_NoService`), else its type."""
        worded = message_of(error) or str(error)
        return self.ctx.translator.gettext(worded) if worded else type(error).__name__

    def reason_text(self, item: Any) -> str:
        """Why a transaction on the attendant's list waits for a person, as a sentence with its
        figures, in the current language (an unknown code: a generic sentence naming it)."""
        from kiosk.transactions.attendant import explain_item

        return explain_item(item, self.ctx.translator.gettext)

    def _background(self, work: Callable[[], Any], on_done: Callable[[Any], None],
                    on_error: Callable[[Exception], None]) -> None:
        def failed(error: Exception) -> None:  # shown to staff as one line; never a traceback on screen
            event(log, "staff.task_failed", level=logging.WARNING, problem=type(error).__name__)
            on_error(error)

        run_off_ui(work, on_done, failed, self.call_soon, self.run)

    def _announce(self) -> None:
        for listener in list(self._listeners):
            listener()


def open_staff_sessions(config: Any, now: Callable[[], float]) -> Any:
    """The staff database, its lockout and the audit log (disk work: call off the UI thread)."""
    from kiosk.staff import AuditLog, StaffAccess, StaffSessions

    return StaffSessions(StaffAccess(config), AuditLog.open(config), config.staff.session_idle_s, now=now)


class _NoService:
    """Before the transaction store has opened (or when it cannot): every money task says so."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def unavailable(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError(N_("El registro de transacciones no está disponible todavía."))

        return unavailable


def locked_message(seconds_left: float, _: Callable[[str], str]) -> str:
    """What the PIN pad says while staff access is locked (before a digit, and after a refusal)."""
    minutes = max(1, math.ceil(seconds_left / 60))  # never a shorter wait than the lock: it rounds up
    return _("Acceso del personal bloqueado por intentos fallidos. Intente de nuevo en {minutes} min.").format(
        minutes=minutes)


def login_refusal(error: Exception, _: Callable[[str], str]) -> str:
    """The PIN pad's answer to a refused login, without saying whether the staff number exists."""
    from kiosk.staff.model import StaffLocked, WrongPin  # loaded by the login that raised it

    if isinstance(error, StaffLocked):
        return locked_message(error.seconds_left, _)
    if isinstance(error, WrongPin):
        return _("Número o PIN incorrecto. Quedan {attempts} intentos.").format(attempts=error.attempts_left)
    return _("No se pudo entrar: {problem}").format(problem=str(error))


def unavailable(error: Exception, _: Callable[[str], str]) -> str:
    return _("El acceso del personal no está disponible: {problem}").format(problem=str(error) or type(error).__name__)
