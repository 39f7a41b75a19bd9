"""What the technician screen's buttons do: test print, read card, poll cash, self-test, force
sync, restart. The same functions serve a shell.

Each one blocks (device I/O, network), so the UI runs it with `run_in_background(...)`, which
hands the `ActionResult` back through `call_soon`. None of them raises: every failure becomes
`ActionResult(ok=False, message=...)` naming the problem. Messages are Spanish msgids passed
through `_`, the gettext of the kiosk's configured language (Spanish when none is given).

    run_in_background(lambda: test_print(printer, config), on_done=show_result, call_soon=call_soon)

Restarting: the app exits with EXIT_RESTART (75) and systemd starts it again (kiosk.service
has Restart=always). 64 (kiosk.core.sdnotify.EXIT_DELIBERATE_SHUTDOWN) is the one status that keeps
the kiosk down, so a restart must never use it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk import __version__
from kiosk.core.errors import code_of
from kiosk.core.i18n import N_
from kiosk.core.logs import event
from kiosk.core.threads import CallSoon, run_in_thread
from kiosk.fleet.model import Gettext, spanish

log = logging.getLogger("kiosk.fleet.actions")

# EX_TEMPFAIL, "try again": any status but EXIT_DELIBERATE_SHUTDOWN (64) makes systemd restart us.
EXIT_RESTART = 75
CHARACTER_SAMPLE = "á é í ó ú ñ ü Á É Í Ó Ú Ñ Ü ¿ ¡ $ €"


@dataclass(frozen=True)
class ActionResult:
    action: str
    ok: bool
    message: str  # one line for the screen: what happened, or what is wrong and what to do
    details: Mapping[str, Any] = field(default_factory=dict)  # no personal data

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "ok": self.ok, "message": self.message, "details": dict(self.details)}


def _guarded(action: str, work: Callable[[], ActionResult], _: Gettext = spanish) -> ActionResult:
    """Device failures and bugs become a failed result with the reason, never an exception."""
    from devices.contract import DeviceError

    try:
        result = work()
    except DeviceError as error:
        result = ActionResult(action, False, f"{error.reason.text(_)} ({error.code})", {"reason": error.code})
    except Exception as error:
        log.error("fleet.action_failed", exc_info=True, extra={"fields": {"action": action}})
        result = ActionResult(action, False, _("falla inesperada: {error}").format(error=type(error).__name__), {})
    event(log, "fleet.action", action=action, ok=result.ok)
    return result


def _missing(action: str, what: str, _: Gettext = spanish) -> ActionResult:
    """`what` is a Spanish msgid naming the device."""
    return ActionResult(action, False, _("no hay {device} configurado o abierto").format(device=_(what)))


# ---- printer ------------------------------------------------------------------------------------

def test_sheet(config: Any, now: dt.datetime) -> Any:
    """The test page: who and when (kiosk id, location, version, time), the code page's accented
    characters and a QR, through the same renderer as a citizen's information sheet."""
    from devices.printer import InfoSheet

    kiosk = config.kiosk
    return InfoSheet(
        municipality=kiosk.municipality,
        title="Página de prueba técnica",
        sections=(
            ("Kiosco", (f"Identificador: {kiosk.id}", f"Ubicación: {kiosk.location}", f"Versión: {__version__}",
                        f"Hora: {now:%d/%m/%Y %H:%M:%S}")),
            ("Caracteres", (CHARACTER_SAMPLE, "¿Se leen bien los acentos? ¡Sí!")),
        ),
        qr=f"KIOSK-TEST {kiosk.id} {now.isoformat(timespec='seconds')} v{__version__}",
        printed_at=now, kiosk_id=kiosk.id, location=kiosk.location,
    )


def test_print(printer: Any, config: Any, now: dt.datetime | None = None, _: Gettext = spanish) -> ActionResult:
    if printer is None:
        return _missing("test_print", N_("impresora"), _)

    def work() -> ActionResult:
        from devices.contract import reason

        result = printer.print_sheet(test_sheet(config, now or dt.datetime.now()))
        details = {"job_id": result.job_id, "blocks_sent": result.blocks_sent, "blocks_total": result.blocks_total,
                   "reason": result.reason}
        if result.completed:
            return ActionResult("test_print", True, _("página de prueba impresa (trabajo {job})").format(
                job=result.job_id), details)
        return ActionResult("test_print", False, _("la página de prueba no terminó: {problem}").format(
            problem=reason(result.reason).text(_)), details)

    return _guarded("test_print", work, _)


# Named for what they do, not pytest tests: keep pytest from collecting them where they are imported.
test_sheet.__test__ = False  # type: ignore[attr-defined]  # an attribute functions have no type for
test_print.__test__ = False  # type: ignore[attr-defined]  # an attribute functions have no type for


# ---- card reader --------------------------------------------------------------------------------

def read_card(reader: Any, _: Gettext = spanish) -> ActionResult:
    """Read the inserted card with the configured profile; the identity is dropped, never shown."""
    if reader is None:
        return _missing("read_card", N_("lector de tarjetas"), _)

    def work() -> ActionResult:
        details = {"profile": getattr(reader, "profile", ""), "reader": getattr(reader, "reader", "")}
        if not getattr(reader, "card_present", False):
            return ActionResult("read_card", False, _("no hay tarjeta en el lector: inserte una tarjeta de prueba "
                                                      "e intente de nuevo"), details)
        atr = str(reader.diagnostics().get("atr", ""))
        identity = reader.read_identity()
        readable = bool(identity.id_number)
        del identity  # personal data: it leaves this function only as "it was read"
        details["atr"] = atr
        if readable:
            return ActionResult("read_card", True, _("tarjeta leída con el perfil {profile} (identidad no "
                                                     "mostrada)").format(profile=details["profile"]), details)
        return ActionResult("read_card", False, _("la tarjeta respondió pero no trae número de identidad"), details)

    return _guarded("read_card", work, _)


# ---- cash ---------------------------------------------------------------------------------------

def poll_cash(cash: Any, _: Gettext = spanish) -> ActionResult:
    """Poll every acceptor (and the hopper), read their event queues, report what they accept."""
    if cash is None:
        return _missing("poll_cash", N_("dispositivo de efectivo"), _)

    def work() -> ActionResult:
        status = cash.refresh()
        if not status.usable:
            return ActionResult("poll_cash", False, f"{status.reason.text(_)} ({status.reason.code})",
                                {"state": str(status.state), "reason": status.reason.code})
        credits = cash.poll()  # reads the event queues: a jam or fraud code shows up here
        acceptance = cash.acceptance()
        details = {"state": str(cash.status().state), "coins_cents": list(acceptance.coins_cents),
                   "bills_cents": list(acceptance.bills_cents), "can_give_change": acceptance.can_give_change,
                   "credits_read": len(credits)}
        accepted = ", ".join(f"${cents / 100:g}" for cents in (*acceptance.coins_cents, *acceptance.bills_cents))
        change = _("hay cambio") if acceptance.can_give_change else _("sin cambio (solo importe exacto)")
        return ActionResult("poll_cash", True, _("los aceptadores responden; aceptan {accepted}; {change}").format(
            accepted=accepted or _("nada"), change=change), details)

    return _guarded("poll_cash", work, _)


# ---- any device ---------------------------------------------------------------------------------

def self_test(adapter: Any, _: Gettext = spanish) -> ActionResult:
    """The device's own self-test (the printer's prints a test page); see `kiosk devices test`."""
    if adapter is None:
        return _missing("self_test", N_("dispositivo"), _)

    def work() -> ActionResult:
        report = adapter.self_test()
        failed = [check.name for check in report.checks if not check.ok]
        message = (_("{device}: autoprueba superada").format(device=report.device) if report.ok else
                   _("{device}: la autoprueba falló ({checks}): {problem}").format(
                       device=report.device, checks=", ".join(failed), problem=report.reason.text(_)))
        return ActionResult("self_test", report.ok, message, report.to_dict())

    return _guarded("self_test", work, _)


# ---- catalog ------------------------------------------------------------------------------------

def force_sync(target: Any, timeout_s: float = 60.0, _: Gettext = spanish) -> ActionResult:
    """Sync the catalog now. `target` is the app's CatalogFeed (its sync service is triggered and
    the outcome awaited), a CatalogSyncService, or a CatalogSync (synced directly: a shell)."""
    service = getattr(target, "sync_service", target)
    if service is None:
        return ActionResult("force_sync", False, _("la sincronización del catálogo está apagada: no hay llave fijada "
                                                   "([api] public_key) o el catálogo aún no arranca"))

    def work() -> ActionResult:
        if hasattr(service, "trigger"):
            return _trigger_and_wait(service, timeout_s, _)
        return _sync_result(service.sync_once(), None, _)

    return _guarded("force_sync", work, _)


def _trigger_and_wait(service: Any, timeout_s: float, _: Gettext) -> ActionResult:
    """Wake the background sync (one sync at a time, as the app runs it) and wait for its outcome:
    a run that started after the trigger and left a new result or error behind."""
    before = (service.runs, service.last_result, service.last_error)
    service.trigger()
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while time.monotonic() < deadline:
        runs, result, error = service.runs, service.last_result, service.last_error
        if runs > before[0] and (result is not before[1] or error is not before[2]):
            return _sync_result(result if error is None else None, error, _)
        pause.wait(0.05)
    return ActionResult("force_sync", False, _("sin resultado de la sincronización en {seconds} s; puede seguir en "
                                               "curso (vea la revisión del catálogo)").format(
        seconds=f"{timeout_s:.0f}"))


def _sync_result(result: Any, error: Any, _: Gettext = spanish) -> ActionResult:
    if error is not None:
        reason = code_of(error)
        return ActionResult("force_sync", False, _("la sincronización falló ({reason}): {error}; se queda el catálogo "
                                                   "anterior").format(reason=reason, error=error), {"reason": reason})
    if not result.changed:
        message = _("catálogo sin cambios en la revisión {revision}").format(revision=result.revision)
    else:
        message = _("catálogo de la revisión {previous} a la {revision} ({mode}): {added} nuevos, {updated} "
                    "actualizados, {removed} retirados").format(
            previous=result.previous_revision or "-", revision=result.revision, mode=result.mode,
            added=len(result.added), updated=len(result.updated), removed=len(result.removed))
    return ActionResult("force_sync", True, message, {"mode": result.mode, "revision": result.revision,
                                                               "added": len(result.added),
                                                               "updated": len(result.updated),
                                                               "removed": len(result.removed)})


# ---- the app ------------------------------------------------------------------------------------

def restart_app(stop: Callable[[int], None], _: Gettext = spanish) -> ActionResult:
    """Ask the app to stop with EXIT_RESTART; `stop(status)` is the app's (it ends its event loop
    and makes `kiosk run` return that status). systemd then starts a fresh kiosk."""
    event(log, "app.restart_requested", level=logging.WARNING, exit_status=EXIT_RESTART)
    try:
        stop(EXIT_RESTART)
    except Exception as error:
        return ActionResult("restart", False, _("no se pudo detener la aplicación: {error}").format(
            error=type(error).__name__))
    return ActionResult("restart", True, _("reiniciando (estado de salida {status}; systemd vuelve a arrancar el "
                                           "kiosco)").format(status=EXIT_RESTART), {"exit_status": EXIT_RESTART})


def run_in_background(action: Callable[[], ActionResult], on_done: Callable[[ActionResult], None],
                      call_soon: CallSoon, _: Gettext = spanish) -> threading.Thread:
    """Run a blocking action on a worker thread; `on_done(result)` comes back through call_soon."""

    def work() -> None:
        try:
            result = action()
        except Exception as error:  # the actions do not raise; a lambda around them might
            result = ActionResult("unknown", False, _("falla inesperada: {error}").format(error=type(error).__name__))
        call_soon(lambda: on_done(result))

    return run_in_thread(work, "technician-action")
